/**
 * Inert rendering of model text (issue 9): markdown is shown formatted, but nothing in it
 * runs, loads or acts.
 *
 * JupyterLab's default sanitizer is made for notebook content: it keeps remote images
 * (which leak whatever the model put in their URL the moment they render) and command-
 * linker buttons (`data-commandlinker-command`: one click runs any JupyterLab command).
 * Model text can be steered by a hostile notebook or sent by a hostile backend, so it gets
 * a stricter path of its own:
 *
 * 1. `protectMarkdown`: every `<` is replaced by a private-use sentinel before the markdown
 *    parser sees it, so no raw HTML, autolink or angle-bracket link can form; raw HTML the
 *    model wrote is *shown* as text. `restoreHtml` turns the sentinel into `&lt;` in the
 *    parser's HTML (in code blocks too, so code keeps its `<`).
 * 2. `cleanHtml`: the parser's HTML is read in an inert document (DOMParser: no scripts,
 *    no fetches) and rebuilt from an allowlist: images become text, links keep only
 *    http(s)/mailto targets, every other attribute (event handlers, `style`, `data-*`,
 *    `src`) is dropped, and active elements (forms, buttons, frames, SVG, ...) are
 *    dropped or reduced to their text.
 *
 * The policy functions are pure (no DOM), so Jest tests them in node.
 */

/** Stands for `<` between protectMarkdown and restoreHtml (private use: never typed). */
export const SENTINEL = '\uE000';

/** Model markdown with every `<` replaced by SENTINEL (a sentinel in the input too). */
export function protectMarkdown(text: string): string {
  return text.replace(/[<\uE000]/g, SENTINEL);
}

/** The parser's HTML with each SENTINEL shown as a literal `<`. */
export function restoreHtml(html: string): string {
  return html.split(SENTINEL).join('&lt;');
}

/** What happens to an element of the parser's output. */
export type TagRule = 'keep' | 'unwrap' | 'drop' | 'image';

const KEEP = new Set([
  'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'strong', 'b', 'em', 'i', 'del',
  's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'table', 'thead', 'tbody', 'tfoot',
  'tr', 'th', 'td', 'span', 'div', 'a', 'sup', 'sub', 'kbd', 'dl', 'dt', 'dd'
]);
/** Elements whose content is not text to show (code, styles, embedded documents). */
const DROP = new Set([
  'script', 'style', 'template', 'noscript', 'iframe', 'frame', 'frameset', 'object',
  'embed', 'applet', 'svg', 'math', 'link', 'meta', 'base', 'head', 'title', 'video',
  'audio', 'source', 'track', 'picture', 'canvas', 'input', 'select', 'textarea',
  'option', 'portal', 'xmp', 'plaintext', 'noembed', 'noframes'
]);

export function tagRule(tag: string): TagRule {
  const name = tag.toLowerCase();
  if (name === 'img' || name === 'image') {
    return 'image';
  }
  if (KEEP.has(name)) {
    return 'keep';
  }
  if (DROP.has(name)) {
    return 'drop';
  }
  // buttons, forms, labels, details, custom elements...: their text only
  return 'unwrap';
}

/**
 * A link target that needs a click and cannot act inside JupyterLab: absolute http(s) or
 * mailto only (no javascript:, data:, relative paths that JupyterLab would open, ...).
 */
export function safeHref(value: string): string | null {
  // browsers ignore ASCII whitespace and control characters inside a scheme
  // eslint-disable-next-line no-control-regex
  const compact = value.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (/^https?:\/\/[^/\\]/i.test(compact) || /^mailto:/i.test(compact)) {
    return value.trim();
  }
  return null;
}

const CLASS_TOKEN = /^[A-Za-z0-9_\-\u0370-\u03ff]+$/;

/** Classes of syntax highlighting (`language-python`, CodeMirror's `ͼ1c`); not JupyterLab's own. */
export function safeClass(value: string): string | null {
  const tokens = value
    .split(/\s+/)
    .filter(t => t && CLASS_TOKEN.test(t) && !/^(jp|lm|p)-/i.test(t));
  return tokens.length ? tokens.join(' ') : null;
}

/**
 * The value an attribute keeps on a kept element, or null to drop it. Everything not
 * listed goes: `on*` handlers, `style` (CSS can fetch), `src`/`srcset`, `data-*` (the
 * command linker), `id`/`name` (DOM clobbering), `form*`, ...
 */
export function cleanAttribute(tag: string, name: string, value: string): string | null {
  const t = tag.toLowerCase();
  const n = name.toLowerCase();
  if (n === 'class' && (t === 'code' || t === 'pre' || t === 'span' || t === 'div')) {
    return safeClass(value);
  }
  if (n === 'href' && t === 'a') {
    return safeHref(value);
  }
  if (n === 'title' && t === 'a') {
    return value;
  }
  if (n === 'align' && (t === 'td' || t === 'th')) {
    return /^(left|right|center)$/i.test(value) ? value.toLowerCase() : null;
  }
  if (n === 'start' && t === 'ol') {
    return /^\d{1,6}$/.test(value) ? value : null;
  }
  return null;
}

/** How an image is shown: its description and address as text (nothing is fetched). */
export function imageText(alt: string, src: string): string {
  const what = alt.trim() || 'image';
  const where = src.trim();
  return where ? `[${what}: ${where}]` : `[${what}]`;
}

/** At most this deep: deeper content is shown as text (no stack blow-up on hostile input). */
const MAX_DEPTH = 64;

/**
 * Rebuild `html` from the allowlist as nodes of `doc` (the live document). The input is
 * parsed in an inert document, and every output node is created fresh: no attribute of
 * the input survives unless the policy above returns it.
 */
export function cleanHtml(html: string, doc: Document = document): DocumentFragment {
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  const out = doc.createDocumentFragment();
  const copy = (from: Node, to: Node, depth: number): void => {
    for (const child of Array.from(from.childNodes)) {
      if (child.nodeType === 3) {
        to.appendChild(doc.createTextNode(child.textContent ?? ''));
        continue;
      }
      if (child.nodeType !== 1) {
        continue; // comments, processing instructions
      }
      const el = child as Element;
      const tag = el.localName;
      if (el.namespaceURI !== 'http://www.w3.org/1999/xhtml') {
        continue; // svg / math content
      }
      const rule = tagRule(tag);
      if (rule === 'drop') {
        continue;
      }
      if (rule === 'image') {
        const span = doc.createElement('span');
        span.className = 'jp-twin-image-text';
        span.textContent = imageText(el.getAttribute('alt') ?? '', el.getAttribute('src') ?? '');
        to.appendChild(span);
        continue;
      }
      if (rule === 'unwrap' || depth >= MAX_DEPTH) {
        if (depth >= MAX_DEPTH) {
          to.appendChild(doc.createTextNode(el.textContent ?? ''));
        } else {
          copy(el, to, depth + 1);
        }
        continue;
      }
      const node = doc.createElement(tag);
      for (const attr of Array.from(el.attributes)) {
        const value = cleanAttribute(tag, attr.name, attr.value);
        if (value !== null) {
          node.setAttribute(attr.name.toLowerCase(), value);
        }
      }
      if (tag === 'a') {
        if (node.hasAttribute('href')) {
          // a new tab, no opener, no referrer: the link can only navigate away
          node.setAttribute('target', '_blank');
          node.setAttribute('rel', 'noopener noreferrer nofollow');
          node.setAttribute('referrerpolicy', 'no-referrer');
        }
      }
      copy(el, node, depth + 1);
      to.appendChild(node);
    }
  };
  copy(parsed.body, out, 0);
  return out;
}

/** The part of JupyterLab's markdown parser this needs (IMarkdownParser). */
export interface IMarkdownRenderer {
  render(source: string): Promise<string>;
}

/**
 * Render model markdown into `host`, inert (see the module comment). Without a parser the
 * text is shown as it is. No math typesetting: MathJax would add its own active content.
 */
export async function renderInert(
  host: HTMLElement,
  text: string,
  parser: IMarkdownRenderer | null | undefined
): Promise<void> {
  host.classList.add('jp-RenderedHTMLCommon', 'jp-RenderedMarkdown', 'jp-twin-inert');
  if (!parser) {
    const pre = document.createElement('pre');
    pre.textContent = text;
    host.replaceChildren(pre);
    return;
  }
  const html = restoreHtml(await parser.render(protectMarkdown(text)));
  host.replaceChildren(cleanHtml(html));
}

/**
 * May this model markdown be rendered as a notebook markdown cell right away? Markdown
 * cells are rendered with JupyterLab's default sanitizer, which loads remote images: so a
 * cell inserted from an answer with HTML (`<`) or an image (`![`) is left unrendered, its
 * text visible, until the user renders it.
 */
export function renderableAsCell(markdown: string): boolean {
  return !/<|!\[/.test(markdown);
}

/** Markdown for a piece of code: one fence that nothing in the code can close. */
export function fencedCode(code: string, info = 'python'): string {
  let longest = 0;
  for (const run of code.match(/`+/g) ?? []) {
    longest = Math.max(longest, run.length);
  }
  const fence = '`'.repeat(Math.max(3, longest + 1));
  const body = code === '' || code.endsWith('\n') ? code : code + '\n';
  return `${fence}${info}\n${body}${fence}`;
}
