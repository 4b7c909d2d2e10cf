// `next` values after sign-in that a browser would take somewhere other than Bosun, each with why.
export const hostileNext: [string, string][] = [
  ["/\t/evil.example", "a tab is dropped by the URL parser, leaving //evil.example"],
  ["/\n/evil.example", "so is a newline"],
  ["/\r\n/evil.example", "and a carriage return"],
  ["//evil.example", "scheme-relative: another host"],
  ["///evil.example", "three slashes are still scheme-relative to a browser"],
  ["/\\evil.example", "browsers read a backslash as a slash"],
  ["\\\\evil.example", "two backslashes"],
  ["/\\/evil.example", "slash, backslash, slash"],
  ["https://evil.example/runs", "an absolute URL"],
  ["javascript:alert(1)", "a script URL"],
  ["evil.example", "not a path at all"],
  ["/\u0000/evil.example", "a NUL"],
  [" //evil.example", "leading space"],
  ["", "empty"],
];

/** Paths of Bosun's own that must survive as given. */
export const homeNext: [string, string][] = [
  ["/runs/6a26a442-704b-4cd5-a0ee-4a1666f9d2c1", "/runs/6a26a442-704b-4cd5-a0ee-4a1666f9d2c1"],
  ["/runs?state=failed&age=24h", "/runs?state=failed&age=24h"],
  ["/policy#acme", "/policy#acme"],
  ["/runs/../policy", "/policy"],
];
