// Legend colours: one colour per key, the same in every chart and kept for
// as long as the page is open, so a refresh or a new key never repaints the
// keys already shown.

/** Tableau 10: distinct in light and dark mode, and for common colour blindness. */
export const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf",
];

/** The colour of the "other (n)" band: never a palette colour. */
export const OTHER_COLOR = "#9a9a9a";

/**
 * Assigns colours to keys per dimension. A key keeps the colour it got first;
 * a new key takes the first palette colour no key of the current legend has,
 * so a legend of up to ten keys never shows one colour twice.
 */
export class ColorBook {
  constructor(palette = PALETTE) {
    this.palette = palette;
    /** dimension -> Map(key -> colour) */
    this.byDimension = new Map();
  }

  /** Colours `keys` (in legend order) of `dimension`; returns Map(key -> colour). */
  assign(dimension, keys) {
    let book = this.byDimension.get(dimension);
    if (!book) {
      book = new Map();
      this.byDimension.set(dimension, book);
    }
    const used = new Set(keys.filter((k) => book.has(k)).map((k) => book.get(k)));
    for (const key of keys) {
      if (book.has(key)) continue;
      const free = this.palette.find((c) => !used.has(c)) ?? this.palette[book.size % this.palette.length];
      book.set(key, free);
      used.add(free);
    }
    return new Map(keys.map((k) => [k, book.get(k)]));
  }

  /** The colour `key` of `dimension` has, if it was ever in a legend. */
  get(dimension, key) {
    return this.byDimension.get(dimension)?.get(key) ?? null;
  }
}
