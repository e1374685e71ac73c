/**
 * Cells as the server and the kernel receive them: the notebook's shared model read into
 * plain nbformat-like cells, with only the outputs a model can use. Pure: tested with Jest.
 */
import { ICellData, IOutputData } from './wire';

const MAX_OUTPUT_CHARS = 2000;

function joinText(value: unknown): string {
  if (Array.isArray(value)) {
    return value.join('');
  }
  return typeof value === 'string' ? value : '';
}

function tail(text: string): string {
  return text.length > MAX_OUTPUT_CHARS
    ? '...' + text.slice(text.length - MAX_OUTPUT_CHARS)
    : text;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Text without ANSI colour codes (tracebacks are coloured); the front end's one strip. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** The lines of an error output's traceback, colours removed. */
function tracebackLines(out: IOutputData): string[] {
  return (Array.isArray(out.traceback) ? out.traceback : []).map((line: unknown) =>
    stripAnsi(String(line))
  );
}

/**
 * Keep what the model can use from outputs: text streams, errors, text/plain results.
 * Images and HTML are dropped; long texts are cut (their end kept, where errors are).
 */
export function slimOutputs(outputs: IOutputData[] | undefined): IOutputData[] {
  const result: IOutputData[] = [];
  for (const out of outputs ?? []) {
    const type = out.output_type;
    if (type === 'stream') {
      result.push({
        output_type: 'stream',
        name: out.name ?? 'stdout',
        text: tail(joinText(out.text))
      });
    } else if (type === 'error') {
      result.push({
        output_type: 'error',
        ename: String(out.ename ?? ''),
        evalue: String(out.evalue ?? ''),
        traceback: tracebackLines(out).slice(-30)
      });
    } else if (type === 'execute_result' || type === 'display_data') {
      const plain = joinText(out.data?.['text/plain']);
      if (plain) {
        result.push({
          output_type: type,
          data: { 'text/plain': tail(plain) },
          metadata: {},
          ...(type === 'execute_result'
            ? { execution_count: out.execution_count ?? null }
            : {})
        });
      }
    }
  }
  return result;
}

/** The traceback text of a cell's error output, if any (for the Fix task). */
export function errorText(outputs: IOutputData[] | undefined): string | undefined {
  for (const out of outputs ?? []) {
    if (out.output_type === 'error') {
      const lines = tracebackLines(out);
      return lines.length
        ? lines.join('\n')
        : `${String(out.ename ?? 'Error')}: ${String(out.evalue ?? '')}`;
    }
  }
  return undefined;
}

/** Anything that looks like a shared-model cell (YCodeCell, YMarkdownCell, ...). */
export interface ISharedCellLike {
  id: string;
  cell_type: string;
  getSource(): string;
  getOutputs?: () => IOutputData[];
  execution_count?: number | null;
}

/** Plain cells from the notebook's shared model (all cells, even those not rendered). */
export function cellsFromShared(cells: readonly ISharedCellLike[]): ICellData[] {
  return cells.map(cell => {
    const type =
      cell.cell_type === 'markdown' || cell.cell_type === 'raw'
        ? cell.cell_type
        : 'code';
    const data: ICellData = { id: cell.id, cell_type: type, source: cell.getSource() };
    if (type === 'code') {
      data.outputs = slimOutputs(cell.getOutputs ? cell.getOutputs() : []);
      data.execution_count = cell.execution_count ?? null;
    }
    return data;
  });
}

/** The highest execution count of the cells: kernel facts are asked again when it moves. */
export function lastExecution(cells: readonly ICellData[]): number {
  let stamp = 0;
  for (const c of cells) {
    stamp = Math.max(stamp, c.execution_count ?? 0);
  }
  return stamp;
}
