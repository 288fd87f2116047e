import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { AuthProvider, useAuth } from "./auth";
import { AnnotatePage } from "./pages/Annotate";
import { HomePage } from "./pages/Home";
import { LoginPage } from "./pages/Login";

const ManagePage = lazy(() => import("./pages/Manage").then((m) => ({ default: m.ManagePage })));
const IterationsPage = lazy(() => import("./pages/Iterations").then((m) => ({ default: m.IterationsPage })));
const IterationDetailPage = lazy(() => import("./pages/IterationDetail").then((m) => ({ default: m.IterationDetailPage })));
const DashboardPage = lazy(() => import("./pages/Dashboard").then((m) => ({ default: m.DashboardPage })));

function RequireLogin({ children }: { children: ReactNode }) {
  const { me, loading } = useAuth();
  const location = useLocation();
  if (loading) return <p className="page muted">Loading…</p>;
  if (!me) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

function Header() {
  const { me, logout } = useAuth();
  return (
    <header className="topbar">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Link to="/" className="brand">
        Prefloop
      </Link>
      {me && (
        <nav aria-label="Account" className="topbar-right">
          <span className="muted">{me.username}</span>
          <button type="button" className="link" onClick={logout}>
            Log out
          </button>
        </nav>
      )}
    </header>
  );
}

export function App() {
  return (
    <AuthProvider>
      <BrowserRouter>
        <Header />
        <main id="main">
          {/* Manager and engineer pages load on demand: annotators never download them. */}
          <Suspense fallback={<p className="page muted">Loading…</p>}>
            <Routes>
              <Route path="/login" element={<LoginPage />} />
              <Route path="/" element={<RequireLogin><HomePage /></RequireLogin>} />
              <Route path="/projects/:projectId/annotate" element={<RequireLogin><AnnotatePage /></RequireLogin>} />
              <Route path="/projects/:projectId/dashboard" element={<RequireLogin><DashboardPage /></RequireLogin>} />
              <Route path="/projects/:projectId/manage" element={<RequireLogin><ManagePage /></RequireLogin>} />
              <Route path="/projects/:projectId/iterations" element={<RequireLogin><IterationsPage /></RequireLogin>} />
              <Route path="/iterations/:iterationId" element={<RequireLogin><IterationDetailPage /></RequireLogin>} />
              <Route path="*" element={<p className="page">Page not found. <Link to="/">Home</Link></p>} />
            </Routes>
          </Suspense>
        </main>
      </BrowserRouter>
    </AuthProvider>
  );
}
