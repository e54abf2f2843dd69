// The component layer: Preact with htm's tagged templates, so the modules run as the browser loads them.
import htm from 'htm';
import { h } from 'preact';

export { Fragment, render } from 'preact';
export { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
export const html = htm.bind(h);
