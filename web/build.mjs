// Builds the web interface into the directory given (default ../www): one ES module entry, lazily
// loaded chunks for the consoles (noVNC, xterm.js), one stylesheet, index.html. The output depends only
// on the sources and the locked packages: no timestamps, no absolute paths, content-hashed chunk names.
import * as esbuild from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', 'www'));

// The directory holds only what this build writes: stale chunks of an earlier build go.
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out))
	rmSync(join(out, f), { recursive: true, force: true });

const result = await esbuild.build({
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
	metafile: true,
});

// The chunks the entry imports statically are fetched with it, not after it has been parsed.
const outputs = result.metafile.outputs;
const entry = Object.keys(outputs).find((k) => outputs[k].entryPoint === 'src/main.jsx');
const preload = outputs[entry].imports.filter((i) => i.kind === 'import-statement')
	.map((i) => `<link rel="modulepreload" href="/${basename(i.path)}">`).join('\n');
const html = readFileSync(join(here, 'src', 'index.html'), 'utf8').replace('<!-- modulepreload -->', preload);
writeFileSync(join(out, 'index.html'), html);

// Each text file gets a gzip twin that pved-api sends to clients taking gzip (the header's time is
// zero: two builds stay byte-identical).
for (const f of readdirSync(out)) {
	if (!/\.(js|css|html|svg)$/.test(f))
		continue;
	const data = readFileSync(join(out, f));
	writeFileSync(join(out, `${f}.gz`), gzipSync(data, { level: constants.Z_BEST_COMPRESSION }));
}
