import * as fs from 'fs';
import * as path from 'path';

import { DEFAULT_MAGICS, usesTwinMagic } from '../src/magics';

describe('magic detection', () => {
  it('finds jupyter_twin magics at line starts only', () => {
    expect(usesTwinMagic('%%refactor use pathlib\nx = 1')).toBe(true);
    expect(usesTwinMagic('x = 1\n%twin status')).toBe(true);
    expect(usesTwinMagic('  %%explain')).toBe(true);
    expect(usesTwinMagic('%%timeit\nx = 1')).toBe(false);
    expect(usesTwinMagic('%%refactoring')).toBe(false);
    expect(usesTwinMagic('s = "%%refactor"')).toBe(false);
    expect(usesTwinMagic('%%custom', ['custom'])).toBe(true);
  });
});

/** The magics jupyter_twin registers in a kernel, read from its Python sources. */
function registeredMagics(): Set<string> {
  const root = path.join(__dirname, '..', '..', 'jupyter_twin');
  const names = new Set<string>();
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'labextension' && entry.name !== '__pycache__') {
          visit(full);
        }
      } else if (entry.name.endsWith('.py')) {
        const text = fs.readFileSync(full, 'utf8');
        const decorated = /@(?:cell|line|line_cell)_magic(?:\(\s*["'](\w+)["']\s*\))?[\s\S]*?\bdef (\w+)/g;
        for (const m of text.matchAll(decorated)) {
          names.add(m[1] ?? m[2]);
        }
        for (const m of text.matchAll(/magic_name\s*=\s*["'](\w+)/g)) {
          names.add(m[1]);
        }
      }
    }
  };
  visit(root);
  return names;
}

describe('the magics looked for', () => {
  it('are the magics jupyter_twin registers, and only those', () => {
    expect(new Set(DEFAULT_MAGICS)).toEqual(registeredMagics());
  });

  it('find subcommands of %twin through %twin, and no task name as a magic of its own', () => {
    expect(usesTwinMagic('%twin fix')).toBe(true);
    expect(usesTwinMagic('%%twin ask\nwhy?')).toBe(true);
    expect(usesTwinMagic('%%complete\nx = ')).toBe(true);
    for (const notMagic of ['%fix', '%%document', '%tests', '%%test', '%ask', '%chat']) {
      expect(usesTwinMagic(notMagic)).toBe(false);
    }
    expect(usesTwinMagic('%%fix', [])).toBe(false);
  });
});
