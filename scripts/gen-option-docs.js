#!/usr/bin/env node
'use strict';
/**
 * Renders the README's option tables from the option tables of src/config/ (flag, environment
 * variable, default, unit, meaning: `README_TABLES` in src/config/option-docs.ts). Each table sits
 * between `<!-- options: NAME … -->` and `<!-- /options: NAME -->`; everything else is left alone.
 * Reads the compiled sources in dist/, so run `npx tsc -p tsconfig.json` first:
 *
 *   node scripts/gen-option-docs.js           rewrite the tables in README.md
 *   node scripts/gen-option-docs.js --check   exit 1 when README.md differs from what would be written
 *
 * test/unit/option-docs.test.ts fails when README.md drifts from the tables.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const README = path.join(ROOT, 'README.md');
const COMPILED = path.join(ROOT, 'dist', 'src', 'config', 'option-docs.js');

/** README.md as it should be: the current text with every option table rendered afresh. */
function renderedReadme() {
  if (!fs.existsSync(COMPILED)) throw new Error(`${path.relative(ROOT, COMPILED)} not found: build first with \`npx tsc -p tsconfig.json\``);
  return require(COMPILED).renderReadme(fs.readFileSync(README, 'utf8'));
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown[0]}; usage: node scripts/gen-option-docs.js [--check]`);
    process.exit(2);
  }
  try {
    const text = renderedReadme();
    const same = text === fs.readFileSync(README, 'utf8');
    if (args.includes('--check')) {
      if (!same) {
        console.error('README.md option tables are out of date; regenerate with `npx tsc -p tsconfig.json && node scripts/gen-option-docs.js`');
        process.exit(1);
      }
      console.log('README.md option tables are up to date');
    } else {
      if (!same) fs.writeFileSync(README, text);
      console.log(same ? 'README.md option tables already up to date' : 'wrote the option tables of README.md');
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

module.exports = { renderedReadme };
