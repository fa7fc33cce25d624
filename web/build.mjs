// Builds the web interface into the directory given (default ../www): one ES module entry, lazily
// loaded chunks for the consoles (noVNC, xterm.js), one stylesheet, index.html. The output depends only
// on the sources and the locked packages: no timestamps, no absolute paths, content-hashed chunk names.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', 'www'));

// The directory holds only what this build writes: stale chunks of an earlier build go.
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out))
	rmSync(join(out, f), { recursive: true, force: true });

await esbuild.build({
	absWorkingDir: here,
	entryPoints: { app: 'src/main.jsx' },
	bundle: true,
	splitting: true,
	format: 'esm',
	target: ['chrome110', 'firefox115'],
	minify: true,
	sourcemap: false,
	legalComments: 'eof',
	jsx: 'automatic',
	jsxImportSource: 'preact',
	outdir: out,
	entryNames: '[name]',
	chunkNames: 'c-[hash]',
	assetNames: '[name]-[hash]',
	charset: 'utf8',
	logLevel: 'warning',
});
cpSync(join(here, 'src', 'index.html'), join(out, 'index.html'));
