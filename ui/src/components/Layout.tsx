import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { can, useAuth, useUser } from "../auth";
import { humanize } from "../format";
import { Link, navigate, useLocation } from "../router";
import { Icon } from "./Icon";
import { LanguagePicker } from "./LanguagePicker";
import { t } from "../i18n";

interface NavItem {
  href: string;
  label: string;
  icon: string;
  show: boolean;
  phone: boolean; // shown directly in the phone's bottom bar
}

function isActive(href: string, path: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
}

export function Layout({ children }: { children: ComponentChildren }) {
  const user = useUser();
  const { logout } = useAuth();
  const { path } = useLocation();
  const [moreOpen, setMoreOpen] = useState(false);

  useEffect(() => setMoreOpen(false), [path]);
  useEffect(() => {
    if (!moreOpen) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setMoreOpen(false);
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [moreOpen]);

  const items: NavItem[] = [
    { href: "/", label: t("Dashboard"), icon: "home", show: true, phone: true },
    { href: "/inbox", label: t("Inbox"), icon: "inbox", show: can(user, "messages"), phone: true },
    { href: "/issues", label: t("Issues"), icon: "issue", show: true, phone: true },
    { href: "/tasks", label: t("Tasks"), icon: "task", show: true, phone: true },
    { href: "/schedules", label: t("Schedules"), icon: "calendar", show: can(user, "operational"), phone: false },
    { href: "/reports", label: t("Reports"), icon: "report", show: true, phone: false },
    { href: "/imports", label: t("Import"), icon: "upload", show: can(user, "manage"), phone: false },
    { href: "/settings", label: t("Settings"), icon: "settings", show: can(user, "directory"), phone: false },
  ].filter((i) => i.show);

  const doLogout = async () => {
    await logout();
    navigate("/login", { replace: true });
  };

  const moreActive = items.some((i) => !i.phone && isActive(i.href, path));

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        {t("Skip to content")}
      </a>
      <aside class="sidebar" aria-label={t("Main")}>
        <Link href="/" class="brand">
          <span class="brand-mark" aria-hidden="true">
            t
          </span>
          <span class="brand-name">{t("tapak")}</span>
        </Link>
        <nav class="side-nav" aria-label={t("Sections")}>
          {items.map((i) => (
            <Link key={i.href} href={i.href} class="side-link" aria-current={isActive(i.href, path) ? "page" : undefined}>
              <Icon name={i.icon} />
              <span>{i.label}</span>
            </Link>
          ))}
        </nav>
        <div class="side-user">
          <div class="side-user-name">
            <Icon name="user" size={18} />
            <span>
              <strong>{user?.name}</strong>
              <small>{humanize(user?.role)}</small>
            </span>
          </div>
          <LanguagePicker />
          <button type="button" class="btn btn-quiet" onClick={doLogout}>
            <Icon name="logout" size={18} />{" "}{t("Sign out")}
          </button>
        </div>
      </aside>

      <main id="main" class="main" tabIndex={-1}>
        {children}
      </main>

      <nav class="bottom-nav" aria-label={t("Sections")}>
        {items
          .filter((i) => i.phone)
          .map((i) => (
            <Link key={i.href} href={i.href} class="bottom-link" aria-current={isActive(i.href, path) ? "page" : undefined}>
              <Icon name={i.icon} size={22} />
              <span>{i.href === "/" ? t("Home") : i.label}</span>
            </Link>
          ))}
        <button
          type="button"
          class="bottom-link"
          aria-expanded={moreOpen}
          aria-controls="more-sheet"
          aria-current={moreActive ? "page" : undefined}
          onClick={() => setMoreOpen((o) => !o)}
        >
          <Icon name="more" size={22} />
          <span>{t("More")}</span>
        </button>
      </nav>

      {moreOpen ? (
        <div class="sheet-backdrop" onClick={() => setMoreOpen(false)}>
          <div id="more-sheet" class="sheet" role="dialog" aria-label={t("More sections")} onClick={(e) => e.stopPropagation()}>
            {items
              .filter((i) => !i.phone)
              .map((i) => (
                <Link key={i.href} href={i.href} class="sheet-link" aria-current={isActive(i.href, path) ? "page" : undefined}>
                  <Icon name={i.icon} />
                  <span>{i.label}</span>
                </Link>
              ))}
            <div class="sheet-user">
              <span>
                {t("Signed in as")}{" "}<strong>{user?.name}</strong> ({humanize(user?.role)})
              </span>
              <LanguagePicker id="lang-sheet" />
              <button type="button" class="btn" onClick={doLogout}>
                <Icon name="logout" size={18} />{" "}{t("Sign out")}
              </button>
            </div>
          </div>
        </div>
      ) : null}
    </div>
  );
}

export function PageHeader({ title, children, sub }: { title: string; sub?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1>{title}</h1>
        {sub ? <p class="page-sub">{sub}</p> : null}
      </div>
      {children ? <div class="page-actions">{children}</div> : null}
    </header>
  );
}
