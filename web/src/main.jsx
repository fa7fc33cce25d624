// The application: login, then the resource tree, the content panel and the task bar. The Proxmox
// console URL (/?console=kvm&novnc=1&vmid=N&node=NAME) opens a console page instead.
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, loadSession, login, loginTfa, logout, renewTicket, session, setLogoutHandler, webauthnAnswer } from './api.js';
import { ErrorBox } from './ui.jsx';
import { TaskBar, TaskHost } from './tasks.jsx';
import { Content } from './content.jsx';
import '@xterm/xterm/css/xterm.css';
import './style.css';

function Login({ onDone }) {
	const [realms, setRealms] = useState([]);
	const [user, setUser] = useState('');
	const [pass, setPass] = useState('');
	const [realm, setRealm] = useState('');
	const [tfa, setTfa] = useState(null);
	const [code, setCode] = useState('');
	const [kind, setKind] = useState('totp');
	const [err, setErr] = useState(null);
	const [busy, setBusy] = useState(false);
	useEffect(() => {
		get('/access/domains', null, { noLogout: true }).then((d) => {
			d = d || [];
			setRealms(d);
			const def = d.find((r) => r.default) || d.find((r) => r.realm === 'pam') || d[0];
			if (def) setRealm(def.realm);
		}).catch(setErr);
	}, []);
	const submit = async (e) => {
		e.preventDefault();
		setBusy(true);
		setErr(null);
		try {
			if (tfa) {
				const answer = kind === 'webauthn' ? await webauthnAnswer(tfa.challenge.webauthn.publicKey) : code;
				await loginTfa(tfa.username, tfa.ticket, kind, answer);
				onDone();
			} else {
				const r = await login(user, pass, realm);
				if (r.tfa) {
					// A security key first when the user has one, else the TOTP app.
					const ch = r.challenge || {};
					setKind(ch.webauthn ? 'webauthn' : ch.totp || !ch.recovery ? 'totp' : 'recovery');
					setTfa(r);
				} else {
					onDone();
				}
			}
		} catch (e2) {
			setErr(e2.status === 401 ? new Error('Login failed. Please try again.') : e2);
		} finally {
			setBusy(false);
		}
	};
	return (
		<div class="login-back">
			<form class="login form" onSubmit={submit} aria-label="Login">
				<h1>pved</h1>
				{!tfa ? (
					<>
						<label class="field"><span>User name</span>
							<input name="username" autocomplete="username" required autofocus value={user}
								onInput={(e) => setUser(e.target.value)} /></label>
						<label class="field"><span>Password</span>
							<input name="password" type="password" autocomplete="current-password" required value={pass}
								onInput={(e) => setPass(e.target.value)} /></label>
						<label class="field"><span>Realm</span>
							<select name="realm" value={realm} onChange={(e) => setRealm(e.target.value)}>
								{realms.map((r) => <option value={r.realm}>{r.comment || r.realm}</option>)}
							</select></label>
					</>
				) : (
					<>
						<p>Second login factor required.</p>
						<label class="field"><span>Factor</span>
							<select name="tfa-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
								{tfa.challenge && tfa.challenge.webauthn && <option value="webauthn">Security key (WebAuthn)</option>}
								<option value="totp">TOTP app</option>
								<option value="recovery">Recovery key</option>
							</select></label>
						{kind === 'webauthn' ? (
							<p>Use your security key when the browser asks for it.</p>
						) : (
							<label class="field"><span>Code</span>
								<input name="tfa-code" autocomplete="one-time-code" inputmode="numeric" required autofocus
									value={code} onInput={(e) => setCode(e.target.value)} /></label>
						)}
					</>
				)}
				<ErrorBox error={err} />
				<div class="buttons"><button type="submit" class="primary" disabled={busy}>Login</button></div>
			</form>
		</div>
	);
}

// The tree's selection lives in the URL's fragment: reloads and the back button keep it.
function useHashSel() {
	const read = () => decodeURIComponent(location.hash.slice(1)) || 'root';
	const [sel, setSel] = useState(read);
	useEffect(() => {
		const f = () => setSel(read());
		addEventListener('hashchange', f);
		return () => removeEventListener('hashchange', f);
	}, []);
	return [sel, (id) => { location.hash = encodeURIComponent(id); }];
}

// The tree's row height in pixels (style.css gives .tree li the same).
const ROW = 24;
const TYPE_ORDER = { node: 0, qemu: 1, lxc: 2, storage: 3, pool: 4 };
const ICON = { root: '▣', node: '▤', qemu: '▭', lxc: '▢', storage: '▥', pool: '◫', group: '▸' };

function label(r) {
	if (r.type === 'qemu' || r.type === 'lxc') return `${r.vmid} (${r.name || (r.type === 'qemu' ? 'VM' : 'CT') + ' ' + r.vmid})`;
	if (r.type === 'storage') return `${r.storage} (${r.node})`;
	if (r.type === 'pool') return r.pool;
	return r.node || r.id;
}

function statusClass(r) {
	if (r.template) return 'st-template';
	if (r.type === 'node') return r.status === 'online' ? 'st-on' : 'st-off';
	if (r.type === 'storage') return r.status === 'available' ? 'st-on' : 'st-unknown';
	if (r.type === 'qemu' || r.type === 'lxc') return r.status === 'running' ? 'st-run' : 'st-stop';
	return '';
}

// One handler on the list, not one per item: with 1,000 guests the tree is most of the page's nodes.
function Tree({ resources, pools, sel, onSel, filter }) {
	const rows = useMemo(() => {
		const f = filter.trim().toLowerCase();
		const match = (r) => !f || label(r).toLowerCase().includes(f) || (r.tags || '').toLowerCase().includes(f);
		const out = [{ id: 'root', type: 'root', text: 'Datacenter', depth: 0 }];
		const nodes = resources.filter((r) => r.type === 'node').sort((a, b) => (a.node < b.node ? -1 : 1));
		const byNode = new Map(nodes.map((n) => [n.node, []]));
		for (const r of resources)
			if (r.type !== 'node' && byNode.has(r.node) && match(r)) byNode.get(r.node).push(r);
		for (const n of nodes) {
			out.push({ ...n, text: n.node, depth: 1 });
			const kids = byNode.get(n.node).sort((a, b) => TYPE_ORDER[a.type] - TYPE_ORDER[b.type] ||
				(a.vmid || 0) - (b.vmid || 0) || (a.id < b.id ? -1 : 1));
			for (const k of kids) out.push({ ...k, text: label(k), depth: 2 });
		}
		for (const p of pools.filter((x) => !f || x.poolid.toLowerCase().includes(f)))
			out.push({ id: 'pool/' + p.poolid, type: 'pool', pool: p.poolid, text: p.poolid, depth: 1 });
		return out;
	}, [resources, pools, filter]);
	const idx = rows.findIndex((r) => r.id === sel);
	const onKey = (e) => {
		let n = idx;
		if (e.key === 'ArrowDown') n = Math.min(rows.length - 1, idx + 1);
		else if (e.key === 'ArrowUp') n = Math.max(0, idx - 1);
		else if (e.key === 'Home') n = 0;
		else if (e.key === 'End') n = rows.length - 1;
		else return;
		e.preventDefault();
		performance.mark('tree-key');
		onSel(rows[n].id);
	};
	const onClick = (e) => {
		const li = e.target.closest('li[data-id]');
		if (li) onSel(li.dataset.id);
	};
	// Only the rows in view (and a margin) are in the DOM: 1,000 or 10,000 guests cost what 60 do.
	const ul = useRef();
	const [view, setView] = useState({ top: 0, height: 800 });
	useEffect(() => {
		const el = ul.current;
		const measure = () => setView({ top: el.scrollTop, height: el.clientHeight || 800 });
		const ro = new ResizeObserver(measure);
		ro.observe(el);
		return () => ro.disconnect();
	}, []);
	useEffect(() => {
		// Keeps the selection in view, as the arrow keys move it.
		const el = ul.current;
		if (idx < 0 || !el) return;
		const y = idx * ROW;
		if (y < el.scrollTop) el.scrollTop = y;
		else if (y + ROW > el.scrollTop + el.clientHeight) el.scrollTop = y + ROW - el.clientHeight;
	}, [sel, idx]);
	// Marks for tests/bench/bench-web: when the tree with guests is on the screen.
	useEffect(() => { if (rows.length > 1) performance.mark('tree'); }, [rows]);
	const first = Math.max(0, Math.floor(view.top / ROW) - 20);
	const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW) + 20);
	return (
		<ul class="tree" role="tree" tabindex="0" aria-label="Resources" onKeyDown={onKey} onClick={onClick} ref={ul}
			onScroll={(e) => setView({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })}>
			<li role="none" class="spacer" style={`height:${first * ROW}px`} />
			{rows.slice(first, last).map((r) => (
				<li key={r.id} role="treeitem" aria-selected={r.id === sel} data-id={r.id} data-type={r.type}
					class={`d${r.depth} ${statusClass(r)}${r.id === sel ? ' sel' : ''}`} title={r.status}>
					<span class="icon" aria-hidden="true">{ICON[r.type] || '•'}</span>{r.text}
					{r.type === 'pool' ? <small> (pool)</small> : null}
				</li>
			))}
			<li role="none" class="spacer" style={`height:${(rows.length - last) * ROW}px`} />
		</ul>
	);
}

// The first answer is asked for as the module loads, before the first render: the tree is the page.
let firstResources = null;
export function prefetchResources() {
	firstResources = get('/cluster/resources');
	firstResources.catch(() => {});
}

function Shell() {
	const [resources, setResources] = useState(null);
	const [pools, setPools] = useState([]);
	const [err, setErr] = useState(null);
	const [filter, setFilter] = useState('');
	const [sel, setSel] = useHashSel();
	useEffect(() => {
		let stop = false, t, busy = false, again = false;
		// One poll at a time: one asked for while another runs follows it at once.
		const poll = async () => {
			if (busy) {
				again = true;
				return;
			}
			busy = true;
			clearTimeout(t);
			try {
				const r = await (firstResources || get('/cluster/resources'));
				firstResources = null;
				if (stop) return;
				performance.mark('resources');
				setResources(r || []);
				setErr(null);
			} catch (e) {
				if (!stop) setErr(e);
			}
			busy = false;
			if (!stop) t = setTimeout(poll, again ? 0 : document.hidden ? 10000 : 3000);
			again = false;
		};
		const pollPools = () => get('/pools').then((p) => stop || setPools(p || [])).catch(() => {});
		poll();
		pollPools();
		const tp = setInterval(pollPools, 10000);
		const tr = setInterval(() => renewTicket().catch(() => {}), 15 * 60 * 1000);
		// After a change, once its task has had a moment: a new guest or pool shows up at once.
		let soon = null;
		const changed = () => {
			clearTimeout(soon);
			soon = setTimeout(() => { poll(); pollPools(); }, 700);
		};
		addEventListener('pved-changed', changed);
		return () => {
			stop = true;
			clearTimeout(t);
			clearTimeout(soon);
			clearInterval(tp);
			clearInterval(tr);
			removeEventListener('pved-changed', changed);
		};
	}, []);
	const item = (resources || []).find((r) => r.id === sel) ||
		(sel.startsWith('pool/') ? { id: sel, type: 'pool', pool: sel.slice(5) } : null) ||
		(sel.startsWith('node/') ? { id: sel, type: 'node', node: sel.slice(5) } : null) ||
		{ id: 'root', type: 'root' };
	return (
		<div class="shell">
			<header class="top">
				<span class="brand">pved</span>
				<input type="search" class="search" placeholder="Search (name, VMID, tag)" aria-label="Search"
					value={filter} onInput={(e) => setFilter(e.target.value)} />
				<span class="who">{session.username}</span>
				<button onClick={logout} class="logout">Logout</button>
			</header>
			<aside class="side">
				<ErrorBox error={err} />
				{resources ? <Tree resources={resources} pools={pools} sel={item.id} onSel={setSel} filter={filter} />
					: <p class="loading">Loading…</p>}
			</aside>
			<main class="content">
				<Content item={item} resources={resources || []} key={item.id} onSel={setSel} />
			</main>
			<TaskBar />
			<TaskHost />
		</div>
	);
}

function App() {
	const [logged, setLogged] = useState(loadSession);
	useEffect(() => setLogoutHandler(() => setLogged(false)), []);
	return logged ? <Shell /> : <Login onDone={() => setLogged(true)} />;
}

const q = new URLSearchParams(location.search);
const root = document.getElementById('app');
if (q.get('console')) {
	// The Proxmox way of opening a console in a window of its own.
	import('./console.jsx').then((m) => {
		if (!loadSession()) {
			render(<Login onDone={() => location.reload()} />, root);
			return;
		}
		render(<m.ConsolePage params={q} />, root);
	});
} else {
	if (loadSession()) prefetchResources();
	render(<App />, root);
}
