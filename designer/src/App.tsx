import { useMemo, useState } from 'react';
import { ApiClient, getToken, setToken } from './api/client';
import { Designer } from './components/Designer';
import { Instances } from './components/Instances';

/** The token gate and the two views. The token (jailwf token) is kept in sessionStorage only. */
export function App() {
  const [token, setTokenState] = useState(getToken());
  const [view, setView] = useState<'designer' | 'instances'>('instances');
  const api = useMemo(() => new ApiClient(), []);
  if (!token) return <TokenGate onToken={(t) => (setToken(t), setTokenState(t))} />;
  return (
    <div className="app">
      <header className="topbar">
        <strong>JailWorkflows</strong>
        <nav>
          <button data-testid="nav-instances" className={view === 'instances' ? 'active' : ''} onClick={() => setView('instances')}>
            Instances
          </button>
          <button data-testid="nav-designer" className={view === 'designer' ? 'active' : ''} onClick={() => setView('designer')}>
            Designer
          </button>
        </nav>
        <button data-testid="forget-token" onClick={() => (setToken(null), setTokenState(null))}>
          Forget token
        </button>
      </header>
      <main>{view === 'designer' ? <Designer api={api} /> : <Instances api={api} />}</main>
    </div>
  );
}

function TokenGate({ onToken }: { onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      className="token-gate"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) onToken(value.trim());
      }}
    >
      <h1>JailWorkflows</h1>
      <label>
        API token (<code>jailwf token</code> prints it)
        <input data-testid="token-input" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
      </label>
      <button data-testid="token-submit" type="submit">
        Use token
      </button>
      <p className="hint">Kept for this browser tab only (sessionStorage), sent as an Authorization header.</p>
    </form>
  );
}
