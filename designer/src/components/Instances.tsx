import { useEffect, useMemo, useState } from 'react';
import type { ApiClient } from '../api/client';
import type { InstanceState, InstanceView } from '../api/types';
import { filterInstances, instanceLook, waitingForSomeone, type InstanceFilter } from '../instance/state';
import { InstanceDetail } from './InstanceDetail';

const STATES: InstanceState[] = ['running', 'interrupted', 'incident', 'awaitingApproval', 'complete', 'aborted'];

/** Instances with filters, the incidents and approvals that wait for someone, and the selected instance. */
export function Instances({ api }: { api: ApiClient }) {
  const [list, setList] = useState<InstanceView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState<InstanceFilter>({ states: [], definition: '', text: '' });
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    let stop = false;
    const load = () =>
      api.instances().then(
        (l) => !stop && (setList(l), setError(null)),
        (e) => !stop && setError((e as Error).message),
      );
    load();
    const t = setInterval(load, 5000);
    return () => ((stop = true), clearInterval(t));
  }, [api]);

  const shown = useMemo(() => filterInstances(list, filter), [list, filter]);
  const waiting = useMemo(() => waitingForSomeone(list), [list]);
  const definitions = useMemo(() => [...new Set(list.map((i) => i.definition))].sort(), [list]);

  return (
    <div className="instances">
      <aside className="instance-side">
        <section className="waiting" data-testid="waiting-list">
          <h3>Waiting for someone ({waiting.length})</h3>
          {waiting.length === 0 && <p className="hint">Nothing waits.</p>}
          {waiting.map((i) => (
            <button key={i.id} className={`waiting-item tone-${instanceLook(i.state).tone}`} data-testid={`waiting-${i.id}`} onClick={() => setSelected(i.id)}>
              <strong>{i.server ?? i.definition}</strong> {instanceLook(i.state).label}
              <small>{i.state === 'incident' ? (i.incident?.error ?? i.lastError) : i.approval?.subject}</small>
            </button>
          ))}
        </section>
        <section className="filters" data-testid="instance-filters">
          <input data-testid="filter-text" placeholder="id, server, definition" value={filter.text} onChange={(e) => setFilter({ ...filter, text: e.target.value })} />
          <select data-testid="filter-definition" value={filter.definition} onChange={(e) => setFilter({ ...filter, definition: e.target.value })}>
            <option value="">every definition</option>
            {definitions.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
          <div className="state-filters">
            {STATES.map((s) => (
              <label key={s}>
                <input
                  type="checkbox"
                  data-testid={`filter-state-${s}`}
                  checked={filter.states.includes(s)}
                  onChange={(e) => setFilter({ ...filter, states: e.target.checked ? [...filter.states, s] : filter.states.filter((x) => x !== s) })}
                />
                {instanceLook(s).label}
              </label>
            ))}
          </div>
        </section>
        {error && <p className="error">{error}</p>}
        <ul className="instance-list" data-testid="instance-list">
          {shown.map((i) => (
            <li key={i.id}>
              <button
                className={`instance-item tone-${instanceLook(i.state).tone} ${selected === i.id ? 'selected' : ''}`}
                data-testid={`instance-${i.id}`}
                data-state={i.state}
                onClick={() => setSelected(i.id)}
              >
                <strong>{i.server ?? '(jail host)'}</strong> {i.definition} v{i.version}
                <span className="badge">{instanceLook(i.state).label}</span>
                <small>
                  {i.id.slice(0, 8)} · {new Date(i.created).toLocaleString()}
                </small>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="instance-main">
        {selected ? <InstanceDetail key={selected} api={api} id={selected} /> : <p className="hint">Select an instance.</p>}
      </section>
    </div>
  );
}
