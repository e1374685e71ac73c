/**
 * The policy of the inert renderer (issue 9, points 1 and 2): no raw HTML reaches the
 * markdown parser, no remote resource, no command link, no script URL survives.
 * (The DOM walk itself runs in the browser: ui-tests/tests/output_safety.spec.ts.)
 */
import {
  cleanAttribute,
  fencedCode,
  imageText,
  protectMarkdown,
  renderableAsCell,
  restoreHtml,
  safeClass,
  safeHref,
  SENTINEL,
  tagRule
} from '../src/inert';

describe('protectMarkdown / restoreHtml', () => {
  it('leaves no < for the parser, and shows each one as &lt; afterwards', () => {
    const text = '<img src=x onerror=alert(1)> and `a < b` and <script>x</script>';
    const protectedText = protectMarkdown(text);
    expect(protectedText).not.toContain('<');
    expect(restoreHtml(protectedText)).toBe(text.split('<').join('&lt;'));
  });

  it('treats a sentinel in the input as a < (nothing to smuggle)', () => {
    expect(protectMarkdown(`a${SENTINEL}b`)).toBe(`a${SENTINEL}b`);
    expect(restoreHtml(`<p>a${SENTINEL}b</p>`)).toBe('<p>a&lt;b</p>');
  });
});

describe('tagRule', () => {
  it('keeps text structure, drops active or embedding elements, images become text', () => {
    for (const t of ['p', 'pre', 'code', 'a', 'table', 'td', 'ul', 'li', 'h2', 'span']) {
      expect(tagRule(t)).toBe('keep');
    }
    for (const t of ['script', 'STYLE', 'iframe', 'object', 'embed', 'svg', 'math', 'input', 'video', 'link', 'meta', 'base', 'template']) {
      expect(tagRule(t)).toBe('drop');
    }
    expect(tagRule('img')).toBe('image');
    for (const t of ['button', 'form', 'label', 'details', 'x-custom', 'marquee']) {
      expect(tagRule(t)).toBe('unwrap');
    }
  });
});

describe('cleanAttribute', () => {
  it('drops event handlers, styles, sources and the command linker', () => {
    expect(cleanAttribute('p', 'onclick', 'alert(1)')).toBeNull();
    expect(cleanAttribute('a', 'onmouseover', 'alert(1)')).toBeNull();
    expect(cleanAttribute('div', 'style', 'background:url(http://evil/x)')).toBeNull();
    expect(cleanAttribute('span', 'data-commandlinker-command', 'notebook:run-all-cells')).toBeNull();
    expect(cleanAttribute('a', 'data-commandlinker-args', '{}')).toBeNull();
    expect(cleanAttribute('div', 'id', 'jp-main-dock-panel')).toBeNull();
    expect(cleanAttribute('td', 'background', 'http://evil/x.png')).toBeNull();
    expect(cleanAttribute('a', 'ping', 'http://evil/')).toBeNull();
  });

  it('keeps highlighting classes, table alignment, list start, safe links', () => {
    expect(cleanAttribute('code', 'class', 'language-python')).toBe('language-python');
    expect(cleanAttribute('span', 'class', 'ͼ1c ͼ2')).toBe('ͼ1c ͼ2');
    expect(cleanAttribute('td', 'align', 'center')).toBe('center');
    expect(cleanAttribute('td', 'align', 'x" onclick="y')).toBeNull();
    expect(cleanAttribute('ol', 'start', '3')).toBe('3');
    expect(cleanAttribute('a', 'href', 'https://example.org/a')).toBe('https://example.org/a');
  });

  it('keeps no JupyterLab class names (no look-alike UI)', () => {
    expect(safeClass('jp-Dialog lm-Widget p-Widget')).toBeNull();
    expect(safeClass('x"y')).toBeNull();
  });
});

describe('safeHref', () => {
  it('only absolute http(s) and mailto', () => {
    expect(safeHref('http://example.org')).toBe('http://example.org');
    expect(safeHref('mailto:a@b.c')).toBe('mailto:a@b.c');
    for (const bad of [
      'javascript:alert(1)',
      ' JaVaScRiPt:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html,<script>1</script>',
      'vbscript:x',
      '/lab/tree/x.ipynb',
      'x.ipynb',
      '#frag',
      '//evil.example/x',
      'http:/\\evil',
      'file:///etc/passwd'
    ]) {
      expect(safeHref(bad)).toBeNull();
    }
  });
});

describe('imageText and fencedCode', () => {
  it('shows an image as its description and address', () => {
    expect(imageText('chart', 'http://evil/leak?q=secret')).toBe('[chart: http://evil/leak?q=secret]');
    expect(imageText('', '')).toBe('[image]');
  });

  it('fences code with more backticks than it holds', () => {
    expect(fencedCode('x = 1')).toBe('```python\nx = 1\n```');
    expect(fencedCode('a\n````\nb')).toBe('`````python\na\n````\nb\n`````');
  });
});

describe('renderableAsCell', () => {
  it('renders plain markdown, leaves HTML and images for the user to render', () => {
    expect(renderableAsCell('# Title\n\n**bold** and [a link](https://example.org) and `x`')).toBe(true);
    expect(renderableAsCell('![chart](http://evil/leak?q=1)')).toBe(false);
    expect(renderableAsCell('![chart][ref]\n\n[ref]: http://evil/leak')).toBe(false);
    expect(renderableAsCell('<img src="http://evil/leak">')).toBe(false);
    expect(renderableAsCell('if a < b')).toBe(false);
  });
});
