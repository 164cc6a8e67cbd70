type Child = Node | string | null | undefined | false;

/**
 * Creates an element. Text goes in as text nodes, never as HTML: event data
 * comes from publishers and must not be able to inject markup.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** The element with `data-testid="<id>"`; throws if the page lacks it. */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`The page has no [data-testid="${id}"].`);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id) as T | null;
  if (!element) throw new Error(`The page has no #${id}.`);
  return element;
}

export function clockTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Keeps at most `max` children, dropping from the end the list grows away from. */
export function trimChildren(
  parent: Element,
  max: number,
  dropFrom: 'start' | 'end',
): void {
  while (parent.childElementCount > max) {
    const victim =
      dropFrom === 'end' ? parent.lastElementChild : parent.firstElementChild;
    victim?.remove();
  }
}
