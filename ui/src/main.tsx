import { render } from "preact";
import { useEffect } from "preact/hooks";
import { AuthProvider, can, useAuth } from "./auth";
import { Layout } from "./components/Layout";
import { Lightbox } from "./components/Lightbox";
import { Loading } from "./components/States";
import { Dashboard } from "./pages/Dashboard";
import { Inbox } from "./pages/Inbox";
import { IssueDetail } from "./pages/IssueDetail";
import { Issues } from "./pages/Issues";
import { Login, safeNext } from "./pages/Login";
import { Imports } from "./pages/Imports";
import { NotForRole, NotFound } from "./pages/Misc";
import { ScheduleDetail, ScheduleEdit, Schedules } from "./pages/Schedules";
import { Occurrences } from "./pages/Occurrences";
import { Reports } from "./pages/Reports";
import { Settings } from "./pages/Settings";
import { Tasks } from "./pages/Tasks";
import { matchPath, navigate, useLocation } from "./router";
import "./styles.css";
import { t } from "./i18n";

function Routes() {
  const { state } = useAuth();
  const { path, search } = useLocation();
  const here = path + location.search;

  // Signed out: everything goes to /login?next=<where the user was going>.
  useEffect(() => {
    if (state.status === "anonymous" && path !== "/login") {
      navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
    }
    if (state.status === "signed_in" && path === "/login") {
      navigate(safeNext(search.get("next")), { replace: true });
    }
  }, [state.status, path]);

  if (state.status === "checking") return <Loading label={t("Starting tapak…")} />;
  if (state.status === "anonymous") {
    if (path !== "/login") return <Loading label={t("Opening sign-in…")} />;
    return <Login next={search.get("next") ?? "/"} expired={state.expired} startupError={state.error} />;
  }
  if (path === "/login") return <Loading label={t("Signing in…")} />;

  const user = state.user;
  let page;
  let m;
  if (path === "/" || path === "") page = <Dashboard />;
  else if (matchPath("/inbox", path)) page = can(user, "messages") ? <Inbox /> : <NotForRole what={t("Messages")} />;
  else if (matchPath("/issues", path)) page = <Issues />;
  else if ((m = matchPath("/issues/:id", path))) page = <IssueDetail key={m.params.id} id={m.params.id} />;
  else if (matchPath("/tasks", path)) page = <Tasks />;
  else if (matchPath("/schedules", path)) page = <Schedules />;
  else if (matchPath("/schedules/new", path)) page = can(user, "manage") ? <ScheduleEdit id={null} /> : <NotForRole what={t("Schedules")} />;
  else if ((m = matchPath("/schedules/:id/edit", path))) page = can(user, "manage") ? <ScheduleEdit key={m.params.id} id={m.params.id} /> : <NotForRole what={t("Schedules")} />;
  else if ((m = matchPath("/schedules/:id", path))) page = <ScheduleDetail key={m.params.id} id={m.params.id} />;
  else if (matchPath("/occurrences", path)) page = <Occurrences />;
  else if (matchPath("/reports", path)) page = <Reports />;
  else if (matchPath("/settings", path)) page = <Settings />;
  else if (matchPath("/imports", path)) page = can(user, "manage") ? <Imports /> : <NotForRole what={t("Imports")} />;
  else page = <NotFound />;

  return <Layout>{page}</Layout>;
}

function App() {
  return (
    <AuthProvider>
      <Routes />
      <Lightbox />
    </AuthProvider>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
