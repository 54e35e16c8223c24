import { navigate } from '../App'

export function NotFoundPage({ title = 'Not found', message }: { title?: string; message: string }) {
  return (
    <main className="page narrow">
      <h1>{title}</h1>
      <p>{message}</p>
      <p>
        <a href="/" onClick={(e) => { e.preventDefault(); navigate('/') }}>Back to your canvases</a>
      </p>
    </main>
  )
}
