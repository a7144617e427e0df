// Hand-drawn 24px stroke icons (no icon font, nothing fetched).
const PATHS: Record<string, string> = {
  home: "M3 11 12 4l9 7M5 10v10h5v-6h4v6h5V10",
  inbox: "M3 13h5l1.5 3h5L16 13h5M5 5h14l2 8v6H3v-6z",
  issue: "M12 3 2 20h20zM12 10v4M12 17v.5",
  task: "M4 12l5 5L20 6",
  calendar: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5",
  report: "M5 20V10M12 20V4M19 20v-7",
  settings: "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM19 12l2-1-1-3-2 .3-1.5-1.6.3-2-3-1-1 2h-2l-1-2-3 1 .3 2L5 7.3 3 7l-1 3 2 1v2l-2 1 1 3 2-.3 1.5 1.6-.3 2 3 1 1-2h2l1 2 3-1-.3-2 1.5-1.6 2 .3 1-3-2-1z",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  search: "M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM15.5 15.5 20 20",
  photo: "M3 6h18v13H3zM3 16l5-5 4 4 3-3 6 6M15.5 9.5h.01",
  voice: "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5 11a7 7 0 0 0 14 0M12 18v3",
  video: "M3 6h13v12H3zM16 10l5-3v10l-5-3",
  doc: "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6",
  close: "M6 6l12 12M18 6 6 18",
  external: "M14 4h6v6M20 4l-9 9M18 14v6H4V6h6",
  location: "M12 21s-7-6.5-7-11a7 7 0 0 1 14 0c0 4.5-7 11-7 11zM12 8v.01",
  clock: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 2",
  user: "M12 4a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM4 21a8 8 0 0 1 16 0",
  chat: "M4 5h16v11H9l-5 4z",
  refresh: "M20 11a8 8 0 1 0-2.3 5.7M20 5v6h-6",
  upload: "M12 16V4M7 9l5-5 5 5M4 16v4h16v-4",
};

export function Icon({ name, size = 20, label }: { name: keyof typeof PATHS | string; size?: number; label?: string }) {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden={label ? undefined : "true"}
      role={label ? "img" : undefined}
      aria-label={label}
      focusable="false"
    >
      <path d={PATHS[name] ?? PATHS.more} />
    </svg>
  );
}
