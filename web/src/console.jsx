// The consoles, loaded only when one opens: xterm.js over termproxy + vncwebsocket with Proxmox's
// framing (the ticket line first; then "0:LEN:DATA" input, "1:COLS:ROWS:" resizes, "2" pings), and
// noVNC over vncproxy + vncwebsocket with the VNC ticket as the password.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import RFB from '@novnc/novnc';
import { post, wsUrl } from './api.js';
import { ErrorBox } from './ui.jsx';

// The base path of a console's API: the node shell, a VM or a container.
function basePath(kind, node, vmid) {
	const n = `/nodes/${encodeURIComponent(node)}`;
	if (kind === 'shell' || !vmid) return n;
	return `${n}/${kind === 'lxc' ? 'lxc' : 'qemu'}/${vmid}`;
}

const enc = new TextEncoder();

// Fits the terminal to its box from the size of one character cell.
function fit(term, box) {
	const cell = box.querySelector('.xterm-char-measure-element');
	const cw = (cell && cell.getBoundingClientRect().width / Math.max(1, cell.textContent.length)) || 8.4;
	const ch = Math.ceil(term.options.fontSize * 1.2);
	const cols = Math.max(20, Math.floor((box.clientWidth - 16) / cw));
	const rows = Math.max(5, Math.floor((box.clientHeight - 8) / ch));
	if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
}

export function XtermConsole({ kind, node, vmid }) {
	const box = useRef();
	const [state, setState] = useState('connecting');
	const [err, setErr] = useState(null);
	useEffect(() => {
		let ws = null, ping = null, closed = false;
		const term = new Terminal({ fontSize: 14, cursorBlink: true, scrollback: 5000, fontFamily: 'monospace' });
		term.open(box.current);
		fit(term, box.current);
		term.focus();
		const base = basePath(kind, node, vmid);
		const send = (s) => ws && ws.readyState === 1 && ws.send(s);
		(async () => {
			try {
				const tp = await post(`${base}/termproxy`);
				if (closed) return;
				ws = new WebSocket(wsUrl(`${base}/vncwebsocket`, { port: tp.port, vncticket: tp.ticket }), ['binary']);
				ws.binaryType = 'arraybuffer';
				let authed = false;
				ws.onopen = () => ws.send(`${tp.user}:${tp.ticket}\n`);
				ws.onmessage = (e) => {
					const data = typeof e.data === 'string' ? enc.encode(e.data) : new Uint8Array(e.data);
					if (!authed) {
						// The relay answers the ticket line with "OK" before the terminal's bytes.
						const s = new TextDecoder().decode(data);
						if (!s.startsWith('OK')) { setErr(new Error('console refused the ticket')); ws.close(); return; }
						authed = true;
						setState('connected');
						send(`1:${term.cols}:${term.rows}:`);
						if (data.length > 2) term.write(data.subarray(2));
						return;
					}
					term.write(data);
				};
				ws.onclose = () => { setState('closed'); clearInterval(ping); };
				ws.onerror = () => setErr(new Error('console connection failed'));
				ping = setInterval(() => send('2'), 30000);
			} catch (e) {
				setErr(e);
				setState('failed');
			}
		})();
		// Input's length counts UTF-8 bytes, as the node parses it.
		const d1 = term.onData((d) => send(`0:${enc.encode(d).length}:${d}`));
		const d2 = term.onResize(({ cols, rows }) => send(`1:${cols}:${rows}:`));
		const ro = new ResizeObserver(() => fit(term, box.current));
		ro.observe(box.current);
		return () => {
			closed = true;
			ro.disconnect();
			d1.dispose();
			d2.dispose();
			clearInterval(ping);
			if (ws) ws.close();
			term.dispose();
		};
	}, [kind, node, vmid]);
	return (
		<div class="console">
			<div class="console-state" data-state={state}>{state}</div>
			<ErrorBox error={err} />
			<div class="xterm-box" ref={box} />
		</div>
	);
}

export function VncConsole({ node, vmid }) {
	const box = useRef();
	const rfbRef = useRef(null);
	const [state, setState] = useState('connecting');
	const [err, setErr] = useState(null);
	useEffect(() => {
		let closed = false;
		const base = basePath('kvm', node, vmid);
		(async () => {
			try {
				const vp = await post(`${base}/vncproxy`, { websocket: 1 });
				if (closed) return;
				const url = wsUrl(`${base}/vncwebsocket`, { port: vp.port, vncticket: vp.ticket });
				const rfb = new RFB(box.current, url, { credentials: { password: vp.ticket }, wsProtocols: ['binary'] });
				rfb.scaleViewport = true;
				rfb.resizeSession = false;
				rfb.focusOnClick = true;
				rfb.addEventListener('connect', () => { setState('connected'); rfb.focus(); });
				rfb.addEventListener('disconnect', (e) => setState(e.detail.clean ? 'closed' : 'disconnected'));
				rfb.addEventListener('securityfailure', (e) => setErr(new Error(`VNC authentication failed: ${e.detail.reason || ''}`)));
				rfbRef.current = rfb;
			} catch (e) {
				setErr(e);
				setState('failed');
			}
		})();
		return () => {
			closed = true;
			if (rfbRef.current) rfbRef.current.disconnect();
			rfbRef.current = null;
		};
	}, [node, vmid]);
	return (
		<div class="console">
			<div class="toolbar">
				<span class="console-state" data-state={state}>{state}</span>
				<button onClick={() => rfbRef.current && rfbRef.current.sendCtrlAltDel()}>Ctrl+Alt+Del</button>
				<button onClick={() => window.open(`/?console=kvm&novnc=1&vmid=${vmid}&node=${encodeURIComponent(node)}`,
					`console-${vmid}`, 'width=820,height=660')}>Open in a window</button>
			</div>
			<ErrorBox error={err} />
			<div class="vnc-box" ref={box} />
		</div>
	);
}

// /?console=kvm&novnc=1&vmid=N&node=NAME (or console=shell, console=lxc; xtermjs=1 for a text console).
export function ConsolePage({ params }) {
	const kind = params.get('console');
	const node = params.get('node');
	const vmid = params.get('vmid');
	document.title = `${vmid ? vmid : node} - console`;
	const text = kind === 'shell' || kind === 'lxc' || params.get('xtermjs') === '1';
	return (
		<div class="console-page">
			{text ? <XtermConsole kind={kind === 'kvm' ? 'kvm' : kind} node={node} vmid={vmid} />
				: <VncConsole node={node} vmid={vmid} />}
		</div>
	);
}
