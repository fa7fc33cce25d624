// The consoles' code (xterm.js, noVNC) is a chunk of its own, fetched when a console first opens.
import { useEffect, useState } from 'preact/hooks';

let mod = null;
export function Lazy({ name, ...props }) {
	const [m, setM] = useState(mod);
	useEffect(() => { if (!m) import('./console.jsx').then((x) => { mod = x; setM(x); }); }, []);
	if (!m) return <p class="loading">Loading console…</p>;
	const C = m[name];
	return <C {...props} />;
}
