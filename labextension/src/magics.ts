/**
 * Which cells hold a jupyter_twin magic (before such a cell runs, the front end pushes
 * the live notebook to the kernel). Pure: tested with Jest.
 */

/**
 * The magics jupyter_twin registers in a kernel (jupyter_twin/kernel/): the cell magics
 * `%%refactor`, `%%explain`, `%%complete`, and `%twin` / `%%twin` (fix, doc, test, ask,
 * status... are its subcommands, not magics). Settings > magicNames may add others.
 */
export const DEFAULT_MAGICS = ['twin', 'complete', 'explain', 'refactor'];

/** Whether a line of `source` starts with one of the `magics` (`%name` or `%%name`). */
export function usesTwinMagic(source: string, magics: string[] = DEFAULT_MAGICS): boolean {
  const names = magics.map(m => m.replace(/[^\w-]/g, '')).filter(Boolean);
  if (!names.length) {
    return false;
  }
  const pattern = new RegExp(`^\\s*%{1,2}(?:${names.join('|')})(?![\\w-])`, 'm');
  return pattern.test(source);
}
