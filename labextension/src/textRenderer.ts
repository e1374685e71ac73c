import { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { fencedCode, IMarkdownRenderer, renderInert } from './inert';

/** Model text displayed by the magics (jupyter_twin.kernel.frontend.TEXT_MIME). */
export const TEXT_MIME = 'application/vnd.jupyter-twin.text+json';

interface ITextData {
  v?: number;
  kind?: 'code' | 'markdown';
  text?: string;
  note?: string;
}

/**
 * Shows a magic's answer as inert markdown (code in a fence), whatever the output's trust:
 * a cell the user ran has trusted outputs, and model text must not run there either.
 */
export class TextRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private _parser: IMarkdownRenderer | null) {
    super();
    this.addClass('jp-twin-text-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = (model.data[TEXT_MIME] ?? {}) as ITextData;
    const text = typeof data.text === 'string' ? data.text : '';
    const body = document.createElement('div');
    const markdown = data.kind === 'code' ? fencedCode(text.replace(/\n+$/, '')) : text;
    await renderInert(body, markdown, this._parser);
    const nodes: Node[] = [body];
    if (typeof data.note === 'string' && data.note) {
      const note = document.createElement('div');
      note.className = 'jp-twin-note';
      note.textContent = data.note;
      nodes.push(note);
    }
    this.node.replaceChildren(...nodes);
  }
}

/** `safe: true`: the rendering is inert for trusted and untrusted outputs alike. */
export function textRendererFactory(): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [TEXT_MIME],
    defaultRank: 10,
    createRenderer: options => new TextRenderer(options.markdownParser ?? null)
  };
}
