// Small building blocks: a data hook, a keyboard-usable grid, dialogs, forms with the API's per-field
// errors, tabs, formatting and a sparkline. Everything else is made of these.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';

// GET path (again every `every` ms when given); reload() after a change.
export function useApi(path, params, every, opts) {
	const [state, setState] = useState({ data: null, error: null, loading: true });
	const key = path + JSON.stringify(params || {});
	const gen = useRef(0);
	const load = useCallback(async () => {
		if (!path) return;
		const g = ++gen.current;
		try {
			const data = await api('GET', path, params, opts);
			if (g === gen.current) setState({ data, error: null, loading: false });
		} catch (e) {
			if (g === gen.current) setState((s) => ({ data: s.data, error: e, loading: false }));
		}
	}, [key]);
	useEffect(() => {
		setState({ data: null, error: null, loading: true });
		load();
		if (!every) return () => { gen.current++; };
		const t = setInterval(() => document.hidden || load(), every);
		return () => { clearInterval(t); gen.current++; };
	}, [key, every]);
	return { ...state, reload: load };
}

export const fmtBytes = (n) => {
	if (n === undefined || n === null || n === '') return '';
	const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
	let i = 0;
	n = Number(n);
	while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
	return `${i ? n.toFixed(2) : n} ${u[i]}`;
};
export const fmtPct = (x) => (x === undefined || x === null ? '' : `${(x * 100).toFixed(1)}%`);
export const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : '');
export function fmtUptime(s) {
	if (!s) return '-';
	const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
	return `${d ? d + 'd ' : ''}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function ErrorBox({ error }) {
	if (!error) return null;
	return <div class="error" role="alert">{error instanceof ApiError ? error.detail : String(error)}</div>;
}

// A table whose rows are chosen by click or the arrow keys; Enter or a double click activates one.
export function Grid({ columns, rows, rowKey = (r) => r.id, selected, onSelect, onActivate, empty, label }) {
	rows = rows || [];
	const [sort, setSort] = useState(null);
	const ref = useRef();
	let view = rows;
	if (sort) {
		const { key, dir } = sort;
		view = [...rows].sort((a, b) => {
			const x = a[key], y = b[key];
			return (x > y ? 1 : x < y ? -1 : 0) * dir;
		});
	}
	const idx = view.findIndex((r) => rowKey(r) === selected);
	const onKey = (e) => {
		if (!view.length) return;
		if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
			e.preventDefault();
			const n = Math.max(0, Math.min(view.length - 1, idx + (e.key === 'ArrowDown' ? 1 : -1)));
			onSelect && onSelect(rowKey(view[n]), view[n]);
		} else if (e.key === 'Enter' && idx >= 0 && onActivate) {
			onActivate(view[idx]);
		}
	};
	useEffect(() => {
		const el = ref.current && ref.current.querySelector('tr.sel');
		if (el && el.scrollIntoView) el.scrollIntoView({ block: 'nearest' });
	}, [selected]);
	return (
		<div class="grid" tabindex="0" onKeyDown={onKey} ref={ref} aria-label={label}>
			<table>
				<thead><tr>{columns.map((c) => (
					<th style={c.width ? `width:${c.width}` : ''} onClick={() => setSort(
						sort && sort.key === c.key ? { key: c.key, dir: -sort.dir } : { key: c.key, dir: 1 })}>
						{c.label}{sort && sort.key === c.key ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''}</th>))}</tr></thead>
				<tbody>
					{view.map((r) => {
						const k = rowKey(r);
						return (
							<tr key={k} class={k === selected ? 'sel' : ''} data-key={k}
								onClick={() => onSelect && onSelect(k, r)}
								onDblClick={() => onActivate && onActivate(r)}>
								{columns.map((c) => <td>{c.render ? c.render(r[c.key], r) : fmtCell(r[c.key])}</td>)}
							</tr>
						);
					})}
					{!view.length && <tr><td colspan={columns.length} class="empty">{empty || 'No entries'}</td></tr>}
				</tbody>
			</table>
		</div>
	);
}

function fmtCell(v) {
	if (v === undefined || v === null) return '';
	if (typeof v === 'object') return JSON.stringify(v);
	return String(v);
}

export function Dialog({ title, onClose, children, wide }) {
	const ref = useRef();
	useEffect(() => {
		const prev = document.activeElement;
		const el = ref.current && ref.current.querySelector('input:not([type=hidden]),select,textarea,button');
		if (el) el.focus();
		return () => prev && prev.focus && prev.focus();
	}, []);
	return (
		<div class="modal-back" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
			<div class={'modal' + (wide ? ' wide' : '')} role="dialog" aria-label={title} ref={ref}>
				<div class="modal-title"><span>{title}</span>
					<button class="close" aria-label="Close" onClick={onClose}>×</button></div>
				<div class="modal-body">{children}</div>
			</div>
		</div>
	);
}

// A form from a field list: { name, label, type: text|password|number|bool|select|textarea|file,
// options: [[value, label]], required, disabled, placeholder }. Empty optional fields are not sent;
// the API's "errors" object is shown beside the fields it names.
export function FormDialog({ title, fields, initial, submitLabel = 'OK', onSubmit, onClose, wide, extra }) {
	const [vals, setVals] = useState(() => ({ ...initial }));
	const [err, setErr] = useState(null);
	const [busy, setBusy] = useState(false);
	const set = (k, v) => setVals((s) => ({ ...s, [k]: v }));
	const submit = async (e) => {
		e.preventDefault();
		setBusy(true);
		setErr(null);
		const out = {};
		for (const f of fields) {
			if (f.disabled || f.type === 'static') continue;
			const v = vals[f.name];
			if (f.type === 'bool') out[f.name] = v ? 1 : 0;
			else if (v !== undefined && v !== null && v !== '') out[f.name] = v;
		}
		try {
			await onSubmit(out, vals);
			onClose();
		} catch (e2) {
			setErr(e2);
		} finally {
			setBusy(false);
		}
	};
	const fe = (err && err.errors) || {};
	return (
		<Dialog title={title} onClose={onClose} wide={wide}>
			<form onSubmit={submit} class="form">
				{fields.filter((f) => !f.hidden || !f.hidden(vals)).map((f) => (
					<label class={'field' + (fe[f.name] ? ' bad' : '')}>
						<span>{f.label || f.name}</span>
						<Input f={f} value={vals[f.name]} onChange={(v) => set(f.name, v)} />
						{fe[f.name] && <small class="ferr">{fe[f.name]}</small>}
					</label>
				))}
				{extra}
				<ErrorBox error={err} />
				<div class="buttons">
					<button type="submit" class="primary" disabled={busy}>{busy ? '…' : submitLabel}</button>
					<button type="button" onClick={onClose}>Cancel</button>
				</div>
			</form>
		</Dialog>
	);
}

function Input({ f, value, onChange }) {
	const common = { name: f.name, disabled: f.disabled, required: f.required, placeholder: f.placeholder };
	switch (f.type) {
	case 'static':
		return <span class="static">{value}</span>;
	case 'bool':
		return <input type="checkbox" {...common} checked={!!Number(value) || value === true}
			onChange={(e) => onChange(e.target.checked)} />;
	case 'select':
		return (
			<select {...common} value={value ?? ''} onChange={(e) => onChange(e.target.value)}>
				{!f.required && <option value="">{f.emptyLabel || '(default)'}</option>}
				{(f.options || []).map((o) => {
					const [v, l] = Array.isArray(o) ? o : [o, o];
					return <option value={v}>{l}</option>;
				})}
			</select>
		);
	case 'textarea':
		return <textarea {...common} rows={f.rows || 4} value={value ?? ''} onInput={(e) => onChange(e.target.value)} />;
	default:
		return <input type={f.type || 'text'} {...common} min={f.min} max={f.max} value={value ?? ''}
			autocomplete={f.type === 'password' ? 'new-password' : 'off'}
			onInput={(e) => onChange(e.target.value)} />;
	}
}

export function Confirm({ text, onYes, onClose }) {
	const [err, setErr] = useState(null);
	return (
		<Dialog title="Confirm" onClose={onClose}>
			<p>{text}</p>
			<ErrorBox error={err} />
			<div class="buttons">
				<button class="primary" onClick={async () => {
					try { await onYes(); onClose(); } catch (e) { setErr(e); }
				}}>Yes</button>
				<button onClick={onClose}>No</button>
			</div>
		</Dialog>
	);
}

export function Tabs({ tabs, active, onChange }) {
	const [own, setOwn] = useState(tabs[0] && tabs[0].id);
	const cur = active !== undefined ? active : own;
	const set = onChange || setOwn;
	const t = tabs.find((x) => x.id === cur) || tabs[0];
	const onKey = (e) => {
		const i = tabs.indexOf(t);
		if (e.key === 'ArrowDown' || e.key === 'ArrowRight') set(tabs[(i + 1) % tabs.length].id);
		else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') set(tabs[(i - 1 + tabs.length) % tabs.length].id);
		else return;
		e.preventDefault();
	};
	return (
		<div class="tabs">
			<nav role="tablist" onKeyDown={onKey}>
				{tabs.map((x) => (
					<button role="tab" aria-selected={x === t} class={x === t ? 'on' : ''} tabindex={x === t ? 0 : -1}
						onClick={() => set(x.id)}>{x.label}</button>
				))}
			</nav>
			<section class="tab-body" role="tabpanel">{t && t.render()}</section>
		</div>
	);
}

// A toolbar of buttons; one needing a selection is disabled without one.
export function Toolbar({ children }) { return <div class="toolbar">{children}</div>; }

// A key/value table of an object.
export function KV({ obj, keys }) {
	if (!obj) return null;
	const ks = keys || Object.keys(obj).sort().map((k) => [k, k]);
	return (
		<table class="kv"><tbody>{ks.map(([k, l, f]) => (
			<tr><th>{l}</th><td>{f ? f(obj[k], obj) : fmtCell(obj[k])}</td></tr>))}</tbody></table>
	);
}

// A line graph of the samples the page has kept (rrddata once the node has metrics).
export function Spark({ samples, max, label, fmt = (v) => v }) {
	const w = 240, h = 48;
	const n = samples.length;
	const top = max || Math.max(1e-9, ...samples);
	const pts = samples.map((v, i) => `${n < 2 ? 0 : (i * w) / (n - 1)},${h - (v / top) * (h - 2) - 1}`).join(' ');
	return (
		<figure class="spark">
			<figcaption>{label}: <b>{n ? fmt(samples[n - 1]) : '-'}</b></figcaption>
			<svg viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={label}>
				<polyline points={pts} fill="none" stroke="currentColor" stroke-width="1.5" />
			</svg>
		</figure>
	);
}

export function Bar({ value, max }) {
	const p = max ? Math.min(1, value / max) : 0;
	return <span class="bar" title={fmtPct(p)}><span style={`width:${(p * 100).toFixed(1)}%`} /></span>;
}

// Keeps the last `n` values of a polled figure: one per answer (`from`, the answer's object), so
// a figure that stays the same is still a sample.
export function useSamples(value, from, n = 60) {
	const ref = useRef([]);
	const last = useRef(undefined);
	if (value !== undefined && value !== null && from !== last.current) {
		ref.current = [...ref.current.slice(-(n - 1)), Number(value)];
		last.current = from;
	}
	return ref.current;
}
