// elig playground: write an eligibility rule, see its diagnostics as you type, run it on
// households, read why each decision came out as it did, and compare it with another rule.
//
// Plain script, no framework and no build step. The page is served under a strict
// Content-Security-Policy, so everything here is wired with addEventListener, built with DOM
// calls (never innerHTML: rule text, ids and messages are data), and talks only to its own
// origin.
'use strict';

(function playground() {
  // ---------------------------------------------------------------------------------------
  // Constants

  const KEY_STORAGE = 'elig.apiKey';
  const VALIDATE_DELAY_MS = 300;
  const PASTE_DELAY_MS = 300;
  const MAX_FILE_BYTES = 5 * 1024 * 1024;
  const MAX_SUGGESTIONS = 50;

  // Words of the rule language that are complete as typed: no suggestion list opens for them.
  const KEYWORDS = new Set(['in', 'and', 'or', 'not', 'true', 'false', 'null']);

  const OUTCOMES = ['eligible', 'ineligible', 'undetermined', 'error'];

  // Diff change kinds, in display order, with the words shown after the count.
  const CHANGES = [
    ['gained', 'gain eligibility'],
    ['lost', 'lose eligibility'],
    ['to_undetermined', 'become undetermined'],
    ['from_undetermined', 'no longer undetermined'],
    ['other', 'other changes'],
    ['unchanged', 'unchanged'],
  ];

  // Where a known value came from, in words (why one is unknown comes from the server: `cause_text`).
  const SOURCE_WORDS = {
    registry: 'asked the registry now',
    cache: 'a cached registry answer',
  };

  // A clause's value in words, where its code is not already a word.
  const VALUE_WORDS = { not_needed: 'not needed' };

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------------
  // Page state

  const state = {
    apiKey: null, // used only when sessionStorage is unavailable
    catalog: { metrics: [], functions: [], members: [] },
    samples: null, // {source, beneficiaries} from GET /v1/samples
    samplesLoading: null, // the promise of a load in flight
    pasted: { items: [], bad: [], error: null },
    uploaded: { items: [], bad: [], error: null, name: '' },
    run: null, // the last evaluation: {rule, asOf, items, results}
    explainSeq: 0,
    compareSeq: 0,
    access: null, // what the key may do: {key, scopes} from GET /v1/access
    comparison: null, // the last comparison: {oldRule, newRule, asOf, items}
    explainedRow: null, // the results row the explanation is of
    rowStop: null, // the one results row in the tab order (roving tabindex)
    exportUrl: null,
    editor: null,
    compareEditor: null,
  };

  // ---------------------------------------------------------------------------------------
  // Small helpers

  /** Builds an element. `props`: class, text, data (dataset), or any attribute. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name === 'data') Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of [].concat(children === undefined ? [] : children)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function code(text) {
    return el('code', { text });
  }

  /**
   * Replaces `start..end` of a textarea with `text` as typing would, so that Ctrl+Z undoes it
   * (setting `value` or `setRangeText` empties the browser's undo history). `editor.replacing`
   * tells the editor's input handler that this edit is the page's own.
   */
  function replaceRange(editor, text, start, end) {
    const textarea = editor.textarea;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    editor.replacing = true;
    let typed = false;
    try {
      typed = document.execCommand('insertText', false, text);
    } catch (_) {
      typed = false;
    } finally {
      editor.replacing = false;
    }
    if (!typed || textarea.value.slice(start, start + text.length) !== text) {
      textarea.setRangeText(text, start, end, 'end');
    }
  }

  function capitalise(text) {
    return text ? text[0].toUpperCase() + text.slice(1) : text;
  }

  function plural(count, one, many) {
    return `${count} ${count === 1 ? one : many}`;
  }

  /** Today in the browser's time zone, as YYYY-MM-DD (what <input type=date> holds). */
  function today() {
    const now = new Date();
    const pad = (n) => String(n).padStart(2, '0');
    return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  }

  function asOf() {
    return $('as-of').value || today();
  }

  /** A value from the API, in text: strings as they are, the rest as JSON. */
  function formatValue(value) {
    if (value === undefined) return '—';
    if (typeof value === 'string') return value;
    return JSON.stringify(value);
  }

  function formatTtl(seconds) {
    if (typeof seconds !== 'number') return '—';
    const units = [
      [86400, 'day', 'days'],
      [3600, 'hour', 'hours'],
      [60, 'minute', 'minutes'],
    ];
    for (const [size, one, many] of units) {
      if (seconds >= size && seconds % size === 0) return plural(seconds / size, one, many);
    }
    return plural(seconds, 'second', 'seconds');
  }

  function formatBytes(bytes) {
    const mib = bytes / (1024 * 1024);
    const shown = mib >= 1 ? `${mib.toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
    return `${shown} (${bytes.toLocaleString('en')} bytes)`;
  }

  /** Names from a list of names or of `{name}` objects; anything else gives none. */
  function names(list) {
    if (!Array.isArray(list)) return [];
    return list.map((x) => (typeof x === 'string' ? x : x && x.name)).filter((x) => typeof x === 'string');
  }

  /**
   * The JS string index of a UTF-8 byte offset into `text`. The API counts spans in bytes;
   * JS strings count UTF-16 code units. Equal for ASCII.
   */
  function byteToIndex(text, byteOffset) {
    let bytes = 0;
    let index = 0;
    for (const char of text) {
      if (bytes >= byteOffset) break;
      const point = char.codePointAt(0);
      bytes += point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
      index += char.length;
    }
    return Math.min(index, text.length);
  }

  /** The JS string index of a 1-based line and 1-based column counted in characters. */
  function lineColumnToIndex(text, line, column) {
    const lines = text.split('\n');
    let index = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length - 1); i++) index += lines[i].length + 1;
    const lineText = lines[Math.min(line - 1, lines.length - 1)] || '';
    let offset = 0;
    let counted = 1;
    for (const char of lineText) {
      if (counted >= column) break;
      offset += char.length;
      counted++;
    }
    return index + offset;
  }

  // ---------------------------------------------------------------------------------------
  // Status area

  function setStatus(message, kind) {
    const status = $('status');
    status.textContent = message;
    status.classList.toggle('error', kind === 'error');
  }

  /** Clears the status only if it still shows `message` (a later message stays). */
  function clearStatusIf(message) {
    if ($('status').textContent === message) setStatus('');
  }

  function reportError(error, context) {
    if (!error || error.name === 'AbortError') return;
    const text = error.message || String(error);
    // A refused key is the whole story, whatever was being done.
    const shown = context && error.code !== 'unauthorized' ? `${context}: ${text}` : capitalise(text);
    setStatus(shown, 'error');
  }

  // ---------------------------------------------------------------------------------------
  // API key: kept in sessionStorage for this tab only, never in a URL.

  function getKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE);
    } catch (_) {
      return state.apiKey;
    }
  }

  function storeKey(key) {
    state.apiKey = key;
    try {
      window.sessionStorage.setItem(KEY_STORAGE, key);
    } catch (_) {
      // Storage is blocked: the key lives in memory until the page is closed.
    }
  }

  function clearKey() {
    state.apiKey = null;
    try {
      window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      // Nothing stored.
    }
  }

  function showKeyForm(message) {
    $('api-key-form').hidden = false;
    $('api-key-message').textContent = message || '';
    $('api-key-change').hidden = true;
    $('api-key-state').hidden = true;
    // Cancelling makes sense only when there is a key to go back to.
    $('api-key-cancel').hidden = !getKey();
    $('api-key').focus();
  }

  function cancelKeyChange() {
    $('api-key').value = '';
    hideKeyForm();
    $('api-key-change').focus();
  }

  function hideKeyForm() {
    $('api-key-form').hidden = true;
    $('api-key-message').textContent = '';
    $('api-key-change').hidden = false;
    $('api-key-state').hidden = false;
  }

  function saveKey(event) {
    event.preventDefault();
    const input = $('api-key');
    const key = input.value.trim();
    if (!key) {
      $('api-key-message').textContent = 'Enter the API key.';
      input.focus();
      return;
    }
    // HTTP headers carry visible ASCII only; anything else cannot be a key.
    if (!/^[\x21-\x7e]+$/.test(key)) {
      $('api-key-message').textContent = 'An API key is letters, digits and punctuation, without spaces.';
      input.focus();
      return;
    }
    storeKey(key);
    input.value = '';
    hideKeyForm();
    setStatus('API key set for this tab.');
    startSession();
  }

  function initKeyControls() {
    $('api-key-form').addEventListener('submit', saveKey);
    $('api-key-change').addEventListener('click', () => showKeyForm('Enter the new key.'));
    $('api-key-cancel').addEventListener('click', cancelKeyChange);
    $('api-key-form').addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && getKey()) cancelKeyChange();
    });
    if (getKey()) hideKeyForm();
    else showKeyForm('Enter the API key to start.');
  }

  // ---------------------------------------------------------------------------------------
  // API calls

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }

  async function readJson(response) {
    const text = await response.text();
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (_) {
      return undefined;
    }
  }

  /** Calls the API with the key; throws ApiError with the server's message on failure. */
  async function api(method, path, body, signal) {
    const key = getKey();
    if (!key) {
      showKeyForm('Enter the API key to start.');
      throw new ApiError(0, 'no_key', 'enter the API key first');
    }
    const init = { method, headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (signal) init.signal = signal;
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError(0, 'network', `cannot reach the server (${error.message})`);
    }
    const payload = await readJson(response);
    if (response.status === 401) {
      clearKey();
      showKeyForm('The server did not accept the key. Enter it again.');
      throw new ApiError(401, 'unauthorized', 'the server did not accept the API key; enter it again');
    }
    if (!response.ok) throw errorFrom(response, payload);
    if (payload === undefined) throw new ApiError(response.status, 'bad_response', 'the server answered with something other than JSON');
    return payload;
  }

  function errorFrom(response, payload) {
    const error = (payload && payload.error) || {};
    let message = error.message || `the server answered ${response.status} ${response.statusText}`.trim();
    const retry = response.headers.get('Retry-After');
    if (retry) message += ` (try again in ${plural(Number(retry) || 1, 'second', 'seconds')})`;
    return new ApiError(response.status, error.code || `http_${response.status}`, message, error.details);
  }

  /** Diagnostics in an `invalid_rule` error's details, each with the rule it belongs to. */
  function diagnosticsOf(details) {
    const found = [];
    if (!details) return found;
    for (const d of Array.isArray(details.diagnostics) ? details.diagnostics : []) {
      found.push({ rule: d.rule || null, diagnostic: d });
    }
    for (const r of Array.isArray(details.rules) ? details.rules : []) {
      for (const d of Array.isArray(r.diagnostics) ? r.diagnostics : []) {
        found.push({ rule: d.rule || r.rule || r.name || null, diagnostic: d });
      }
    }
    return found;
  }

  /** Shows an `invalid_rule` answer's diagnostics in the editor(s) they belong to. */
  function showRuleErrors(error, editorsByRule) {
    const byEditor = new Map();
    for (const { rule, diagnostic } of diagnosticsOf(error.details)) {
      const editor = editorsByRule[rule] || editorsByRule.default;
      if (!byEditor.has(editor)) byEditor.set(editor, []);
      byEditor.get(editor).push(diagnostic);
    }
    for (const [editor, diagnostics] of byEditor) editor.showServerDiagnostics(diagnostics);
  }

  // ---------------------------------------------------------------------------------------
  // Busy buttons

  /** Runs `task` with `button` disabled and marked busy; errors go to the status area. */
  async function whileBusy(button, task) {
    if (button.disabled) return;
    button.disabled = true;
    button.classList.add('busy');
    button.setAttribute('aria-busy', 'true');
    try {
      await task();
    } catch (error) {
      reportError(error);
    } finally {
      button.disabled = false;
      button.classList.remove('busy');
      button.removeAttribute('aria-busy');
    }
  }

  // ---------------------------------------------------------------------------------------
  // Completion: metric names after `dci.`, function names after two letters, methods after a dot.

  /**
   * What can complete the text before the caret: [{name, kind, detail, from}] (from: prefix length).
   * Nothing when the word typed is already whole: a keyword such as `in`, or a known name.
   */
  function suggestionsFor(before) {
    const match = /[A-Za-z_][A-Za-z0-9_.]*$/.exec(before);
    if (!match) return [];
    const token = match[0];
    const catalog = state.catalog;
    const last = token.slice(token.lastIndexOf('.') + 1);
    if (KEYWORDS.has(token) || KEYWORDS.has(last)) return [];
    const whole =
      catalog.functions.includes(token) ||
      catalog.metrics.some((m) => m.name === token || token.endsWith(`.${m.name}`)) ||
      (token.includes('.') && catalog.members.includes(last));
    if (whole) return [];
    const found = [];
    const add = (name, kind, detail, prefix) => {
      if (name !== prefix && name.startsWith(prefix)) found.push({ name, kind, detail, from: prefix.length });
    };
    // A metric may follow a receiver, as in `m.dci.dr.`: complete from its `dci.`.
    const metric = /(?:^|\.)(dci\.[A-Za-z0-9_.]*)$/.exec(token);
    if (metric) {
      for (const m of catalog.metrics) add(m.name, 'metric', [m.type, m.registry].filter(Boolean).join(' · '), metric[1]);
      return found;
    }
    if (token.length >= 2) {
      for (const name of catalog.functions) add(name, 'function', 'function', token);
      // `dc` and `dci` lead to the metrics too.
      if ('dci.'.startsWith(token)) for (const m of catalog.metrics) add(m.name, 'metric', m.type || '', token);
    }
    const dot = token.lastIndexOf('.');
    if (dot >= 0) {
      const tail = token.slice(dot + 1);
      if (tail.length >= 1) for (const name of catalog.members) add(name, 'method', 'method', tail);
    }
    return found.slice(0, MAX_SUGGESTIONS);
  }

  /** The suggestion list of one editor: a listbox driven from the textarea (aria-activedescendant). */
  class Completion {
    constructor(editor, list) {
      this.editor = editor;
      this.list = list;
      this.items = [];
      this.active = -1;
      // Enter takes a suggestion only once the arrow keys have chosen one; until then it is a newline.
      this.chosen = false;
      list.addEventListener('mousedown', (event) => {
        // Keep the focus (and the caret) in the textarea while choosing with the mouse.
        event.preventDefault();
        const option = event.target.closest('[role=option]');
        if (option) this.accept(Number(option.dataset.index));
      });
    }

    isOpen() {
      return !this.list.hidden;
    }

    /** Recomputes the suggestions for the caret; opens, refreshes or closes the list. */
    update() {
      const textarea = this.editor.textarea;
      if (textarea.selectionStart !== textarea.selectionEnd) return this.close();
      // Inside a word, a suggestion would leave the rest of the word behind.
      if (/^[\w.]/.test(textarea.value.slice(textarea.selectionStart, textarea.selectionStart + 1))) return this.close();
      const items = suggestionsFor(textarea.value.slice(0, textarea.selectionStart));
      if (items.length === 0) return this.close();
      this.items = items;
      this.chosen = false;
      this.render();
      this.place();
      this.setActive(0);
    }

    render() {
      const id = this.list.id;
      this.list.replaceChildren(
        ...this.items.map((item, index) =>
          el('li', { id: `${id}-${index}`, role: 'option', 'aria-selected': 'false', class: 'option', data: { index, kind: item.kind } }, [
            el('span', { class: 'option-name', text: item.name }),
            el('span', { class: 'option-kind', text: item.detail }),
          ]),
        ),
      );
      this.list.hidden = false;
      this.editor.textarea.setAttribute('aria-expanded', 'true');
    }

    /** Puts the list under the caret's line, kept inside the editor's width. */
    place() {
      const point = this.editor.caretPoint();
      const box = this.editor.textarea;
      const width = this.list.offsetWidth;
      const left = Math.max(0, Math.min(point.left, box.clientWidth - width));
      this.list.style.left = `${left}px`;
      this.list.style.top = `${Math.min(point.bottom, box.offsetHeight)}px`;
    }

    setActive(index) {
      const options = this.list.children;
      if (options.length === 0) return;
      this.active = (index + options.length) % options.length;
      for (let i = 0; i < options.length; i++) {
        options[i].setAttribute('aria-selected', String(i === this.active));
        options[i].classList.toggle('active', i === this.active);
      }
      const current = options[this.active];
      this.editor.textarea.setAttribute('aria-activedescendant', current.id);
      current.scrollIntoView({ block: 'nearest' });
    }

    close() {
      if (this.list.hidden && this.items.length === 0) return;
      this.list.hidden = true;
      this.list.replaceChildren();
      this.items = [];
      this.active = -1;
      this.chosen = false;
      this.editor.textarea.setAttribute('aria-expanded', 'false');
      this.editor.textarea.removeAttribute('aria-activedescendant');
    }

    /** Replaces the typed prefix with the chosen name. */
    accept(index) {
      const item = this.items[index];
      if (!item) return;
      const end = this.editor.textarea.selectionStart;
      replaceRange(this.editor, item.name, end - item.from, end);
      this.close();
      this.editor.changed({ complete: false });
    }

    /**
     * Handles list keys while the list is open; returns whether the key was used. Tab takes the
     * highlighted suggestion; Enter does only after ArrowUp/ArrowDown chose one, and otherwise
     * closes the list and types its newline as usual.
     */
    onKeyDown(event) {
      if (!this.isOpen()) return false;
      const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
      if (event.key === 'ArrowDown' && plain) this.choose(this.active + 1);
      else if (event.key === 'ArrowUp' && plain) this.choose(this.active - 1);
      else if (event.key === 'Tab' && !event.shiftKey && plain) this.accept(this.active);
      else if (event.key === 'Enter' && plain && !event.shiftKey && this.chosen) this.accept(this.active);
      else if (event.key === 'Escape') this.close();
      else {
        if (event.key === 'Enter') this.close();
        return false;
      }
      event.preventDefault();
      return true;
    }

    choose(index) {
      this.chosen = true;
      this.setActive(index);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Rule editors: live validation, diagnostics, marks behind the text, completion.

  /** The first rule's report from a validate answer, with absent lists made empty. */
  function normaliseReport(answer) {
    const rule = (answer && Array.isArray(answer.rules) && answer.rules[0]) || {};
    return {
      valid: rule.valid === undefined ? Boolean(answer && answer.valid) : Boolean(rule.valid),
      diagnostics: Array.isArray(rule.diagnostics) ? rule.diagnostics : [],
      metrics: Array.isArray(rule.metrics) ? rule.metrics : [],
      registries: rule.registries || {},
      fields: Array.isArray(rule.fields) ? rule.fields : [],
    };
  }

  /** `1:1 error unknown metric … — did you mean …?` as an element. */
  function diagnosticItem(d) {
    const line = d.line || 1;
    const column = d.column || 1;
    const severity = d.severity === 'warning' ? 'warning' : 'error';
    return el(
      'li',
      {
        class: 'diagnostic',
        tabindex: 0,
        title: `Go to line ${line}, column ${column}`,
        data: { severity, code: d.code || '', line, column },
      },
      [
        el('span', { class: 'where', text: `${line}:${column}` }),
        ' ',
        el('span', { class: 'severity', text: severity }),
        ' ',
        el('span', { class: 'message', text: d.message || '' }),
        d.help ? el('span', { class: 'help', text: ` — ${d.help}` }) : null,
      ],
    );
  }

  class RuleEditor {
    /**
     * options: textarea, marks (the mirror behind it), diagnostics (<ul>), stateEl, infoEl,
     * completions (<ul role=listbox>), optional (an empty text is not checked), onSubmit.
     */
    constructor(options) {
      Object.assign(this, options);
      this.seq = 0;
      this.timer = 0;
      this.controller = null;
      this.checked = null; // {key, report} of the latest answer (checkKey)
      this.inflight = null; // {text, promise}
      this.completion = new Completion(this, options.completions);
      this.wire();
      this.renderMarks([]);
    }

    wire() {
      const textarea = this.textarea;
      textarea.addEventListener('input', () => {
        if (!this.replacing) this.changed({ complete: true });
      });
      textarea.addEventListener('scroll', () => this.syncScroll());
      textarea.addEventListener('keydown', (event) => this.onKeyDown(event));
      textarea.addEventListener('blur', () => this.completion.close());
      textarea.addEventListener('click', () => this.completion.close());
      // The mirror wraps at the textarea's width: follow resizes of either the window or the box.
      if (window.ResizeObserver) new ResizeObserver(() => this.syncScroll()).observe(textarea);
      this.diagnostics.addEventListener('click', (event) => this.goToDiagnostic(event.target));
      this.diagnostics.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this.goToDiagnostic(event.target);
        }
      });
    }

    text() {
      return this.textarea.value;
    }

    onKeyDown(event) {
      if (this.completion.onKeyDown(event)) return;
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (this.onSubmit) this.onSubmit();
        return;
      }
      // Moving the caret without typing leaves the prefix behind: close the list.
      if (['ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown'].includes(event.key)) this.completion.close();
    }

    /** After every edit: old marks no longer fit the text, so clear them until the next answer. */
    changed({ complete }) {
      keep();
      this.cancelPending();
      this.renderMarks([]);
      if (complete) this.completion.update();
      this.scheduleValidation();
    }

    /** Drops the check in flight: its answer is about a text that is gone. */
    cancelPending() {
      this.seq++;
      if (this.controller) this.controller.abort();
      this.controller = null;
      this.inflight = null;
    }

    scheduleValidation() {
      clearTimeout(this.timer);
      if (this.optional && this.text().trim() === '') {
        this.validate();
        return;
      }
      this.setState('checking…', 'checking');
      this.timer = setTimeout(() => this.validate().catch(() => {}), VALIDATE_DELAY_MS);
    }

    /**
     * Validates the current text now. Only the latest request's answer is shown: a newer
     * request aborts the older one, and an answer that arrives late is dropped.
     */
    validate() {
      clearTimeout(this.timer);
      const text = this.text();
      const sample = loadedSample();
      const key = checkKey(text, sample);
      if (this.checked && this.checked.key === key) {
        // Edited back to the text last checked: its answer still holds, show it again.
        this.showReport(text, this.checked.report);
        return Promise.resolve(this.checked.report);
      }
      if (this.inflight && this.inflight.key === key) return this.inflight.promise;
      this.cancelPending();
      const seq = this.seq;
      if (this.optional && text.trim() === '') {
        this.inflight = null;
        this.checked = { key, report: null };
        this.showReport(text, null);
        return Promise.resolve(null);
      }
      if (!getKey() || !may('evaluate')) {
        this.setState('');
        return Promise.resolve(undefined);
      }
      const controller = new AbortController();
      this.controller = controller;
      this.setState('checking…', 'checking');
      const body = { rule: text };
      // The loaded households give the fields their types: a field none has is warned about.
      if (sample.length > 0) body.data = sample;
      const promise = api('POST', '/v1/rules/validate', body, controller.signal).then(
        (answer) => {
          const report = normaliseReport(answer);
          if (seq === this.seq) {
            this.checked = { key, report };
            this.inflight = null;
            this.showReport(text, report);
          }
          return report;
        },
        (error) => {
          if (seq === this.seq) {
            this.inflight = null;
            this.setState('');
            reportError(error, 'Checking the rule');
          }
          throw error;
        },
      );
      this.inflight = { key, promise };
      return promise;
    }

    /** The report of the text as it is now (waits for edits made meanwhile to be checked too). */
    async currentReport() {
      for (;;) {
        const text = this.text();
        let report;
        try {
          report = await this.validate();
        } catch (error) {
          if (error.name === 'AbortError') continue;
          throw error;
        }
        if (this.text() === text) return report;
      }
    }

    setState(text, kind) {
      this.stateEl.textContent = text;
      this.stateEl.dataset.state = kind || text || 'none';
    }

    showReport(text, report) {
      if (!report) {
        this.setState('');
        this.diagnostics.replaceChildren();
        this.infoEl.replaceChildren();
        this.renderMarks([]);
        return;
      }
      const warnings = report.diagnostics.some((d) => d.severity === 'warning');
      this.setState(report.valid ? 'valid' : 'invalid', report.valid ? (warnings ? 'warnings' : 'valid') : 'invalid');
      this.diagnostics.replaceChildren(...report.diagnostics.map(diagnosticItem));
      this.renderInfo(report);
      this.renderMarks(report.diagnostics, text);
    }

    /** Diagnostics from an evaluate/diff 422: shown like a validate answer for the current text. */
    showServerDiagnostics(diagnostics) {
      const text = this.text();
      const report = { valid: false, diagnostics, metrics: [], registries: {}, fields: [] };
      this.checked = { key: checkKey(text, loadedSample()), report };
      this.showReport(text, report);
    }

    /** Metrics, registries and fields the rule reads, in small text. */
    renderInfo(report) {
      const parts = [];
      const metrics = new Map();
      for (const m of report.metrics) {
        const name = typeof m === 'string' ? m : m && m.name;
        if (!name) continue;
        if (!metrics.has(name)) metrics.set(name, []);
        if (m.level) metrics.get(name).push(m.level);
      }
      if (metrics.size > 0) {
        const shown = [...metrics].map(([name, levels]) => (levels.length ? `${name} (${levels.join(', ')})` : name));
        parts.push(`Metrics: ${shown.join(', ')}`);
      }
      const registries = Object.entries(report.registries || {})
        .filter(([, list]) => Array.isArray(list) && list.length > 0)
        .map(([who, list]) => `${list.join(', ')} for ${who}`);
      if (registries.length > 0) parts.push(`Registries: ${registries.join('; ')}`);
      if (report.fields.length > 0) parts.push(`Fields: ${report.fields.join(', ')}`);
      this.infoEl.textContent = parts.join(' · ');
    }

    /**
     * Renders the mirror behind the textarea: the same text, invisible, with each diagnostic's
     * span wrapped in <mark> so its background shows through. `probe` (a string index) adds an
     * empty element there, to measure where the caret is.
     */
    renderMarks(diagnostics, text, probe) {
      const source = text === undefined ? this.text() : text;
      const ranges = markRanges(source, diagnostics);
      const parts = [];
      let at = 0;
      const pushText = (end) => {
        if (probe !== undefined && probe >= at && probe <= end) {
          parts.push(source.slice(at, probe), el('span', { class: 'caret-probe' }));
          parts.push(source.slice(probe, end));
          probe = undefined;
        } else {
          parts.push(source.slice(at, end));
        }
        at = end;
      };
      for (const range of ranges) {
        pushText(range.start);
        const marked = source.slice(range.start, range.end);
        // An empty span (e.g. "ends too early") still gets a visible mark.
        parts.push(el('mark', { class: `mark-${range.severity}` }, marked || '\u00a0'));
        at = range.end;
      }
      pushText(source.length);
      // A trailing newline only takes a line in the mirror when something follows it.
      parts.push('\u200b');
      this.marks.replaceChildren(...parts);
      this.syncScroll();
    }

    syncScroll() {
      this.marks.scrollTop = this.textarea.scrollTop;
      this.marks.scrollLeft = this.textarea.scrollLeft;
    }

    /** Where the caret is, in pixels inside the editor box: {left, bottom} of its line. */
    caretPoint() {
      const textarea = this.textarea;
      const saved = this.marks.cloneNode(true);
      this.renderMarks([], undefined, textarea.selectionStart);
      const probe = this.marks.querySelector('.caret-probe');
      const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
      const point = probe
        ? { left: probe.offsetLeft - textarea.scrollLeft, bottom: probe.offsetTop - textarea.scrollTop + lineHeight }
        : { left: 0, bottom: textarea.offsetHeight };
      this.marks.replaceChildren(...saved.childNodes);
      return point;
    }

    goToDiagnostic(target) {
      const item = target.closest('.diagnostic');
      if (!item) return;
      this.goTo(Number(item.dataset.line), Number(item.dataset.column));
    }

    /** Puts the caret at a 1-based line:column (columns count characters) and focuses the editor. */
    goTo(line, column) {
      const index = lineColumnToIndex(this.text(), line || 1, column || 1);
      this.textarea.focus();
      this.textarea.setSelectionRange(index, index);
      this.scrollToCaret(index);
    }

    /** Scrolls the textarea so that the caret's line is visible. */
    scrollToCaret(index) {
      const textarea = this.textarea;
      const saved = this.marks.cloneNode(true);
      this.renderMarks([], undefined, index);
      const probe = this.marks.querySelector('.caret-probe');
      if (probe) {
        const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
        const top = probe.offsetTop;
        if (top < textarea.scrollTop || top + lineHeight > textarea.scrollTop + textarea.clientHeight) {
          textarea.scrollTop = Math.max(0, top - textarea.clientHeight / 2);
        }
      }
      this.marks.replaceChildren(...saved.childNodes);
      this.syncScroll();
    }

    /** Inserts text at the caret (replacing a selection), then checks the rule again. */
    insert(name) {
      const textarea = this.textarea;
      const start = textarea.selectionStart;
      const end = textarea.selectionEnd;
      const before = textarea.value.slice(0, start);
      // Keep names apart: `and` + name must not become `andname`.
      const spaced = /[\w)\]"']$/.test(before) ? ` ${name}` : name;
      replaceRange(this, spaced, start, end);
      this.changed({ complete: false });
      this.validate().catch(() => {});
    }
  }

  /** Diagnostic spans as sorted, non-overlapping string ranges. */
  function markRanges(text, diagnostics) {
    const ranges = [];
    for (const d of diagnostics || []) {
      let start;
      let end;
      if (d.span && typeof d.span.start === 'number') {
        start = byteToIndex(text, d.span.start);
        end = byteToIndex(text, Math.max(d.span.start, d.span.end));
      } else if (d.line) {
        start = lineColumnToIndex(text, d.line, d.column || 1);
        end = start;
      } else {
        continue;
      }
      // Mark one character for an empty span, unless it sits at a line's end.
      if (end === start && start < text.length && text[start] !== '\n') end = start + 1;
      ranges.push({ start, end, severity: d.severity === 'warning' ? 'warning' : 'error' });
    }
    ranges.sort((a, b) => a.start - b.start || b.end - a.end);
    // Overlaps are clipped: a later span starts where the marks before it end.
    const merged = [];
    let reached = 0;
    for (const range of ranges) {
      const start = Math.max(range.start, reached);
      const end = Math.max(range.end, start);
      const last = merged[merged.length - 1];
      const swallowed = end === start && (range.start < reached || (last && last.start === start && last.end === start));
      if (swallowed) continue;
      merged.push({ start, end, severity: range.severity });
      reached = end;
    }
    return merged;
  }

  // ---------------------------------------------------------------------------------------
  // Data sources: each registry's connection check, as the server last made it.

  async function loadSources() {
    const answer = await api('GET', '/v1/registries');
    const registries = Array.isArray(answer.registries) ? answer.registries : [];
    const failing = registries.filter((r) => Array.isArray(r.steps) && r.steps.some((s) => !s.passed));
    $('sources-state').textContent = registries.length === 0
      ? '(none configured)'
      : failing.length === 0 ? `(all ${registries.length} pass)` : `(${failing.length} failing)`;
    $('sources-list').replaceChildren(...registries.map(sourceItem));
  }

  function sourceItem(report) {
    const steps = Array.isArray(report.steps) ? report.steps : [];
    const failed = steps.find((step) => !step.passed);
    const summary = failed
      ? `✘ failed at ${failed.step}: ${failed.detail}${failed.hint ? ` (${failed.hint})` : ''}`
      : `✔ ${steps.map((step) => step.step).join(', ')}`;
    return el('li', { class: 'metric source', data: { registry: report.registry, passed: String(!failed) } }, [
      el('div', { class: 'metric-head' }, [code(report.registry)]),
      el('div', { class: 'metric-facts', text: report.answered_by || '' }),
      el('div', { class: 'metric-description', text: summary }),
    ]);
  }

  // ---------------------------------------------------------------------------------------
  // Metric catalog

  async function loadCatalog() {
    const answer = await api('GET', '/v1/metrics');
    state.catalog = {
      metrics: Array.isArray(answer.metrics) ? answer.metrics.filter((m) => m && typeof m.name === 'string') : [],
      functions: names(answer.functions),
      members: names(answer.methods),
    };
    renderCatalog();
  }

  function renderCatalog() {
    const list = $('catalog-list');
    list.replaceChildren(...state.catalog.metrics.map(catalogItem));
    filterCatalog();
    const functions = state.catalog.functions;
    $('catalog-functions').textContent = functions.length ? `Functions: ${functions.join(', ')}` : '';
  }

  function catalogItem(metric) {
    const facts = [
      metric.type,
      metric.registry ? `registry ${metric.registry}` : null,
      `kept ${formatTtl(metric.ttl_secs)}`,
      `when not found: ${formatValue(metric.when_not_found)}`,
      metric.enabled === false ? 'disabled' : null,
    ].filter(Boolean);
    return el('li', { class: 'metric', data: { metric: metric.name } }, [
      el('div', { class: 'metric-head' }, [
        code(metric.name),
        el('button', {
          type: 'button',
          class: 'insert-metric secondary small',
          data: { metric: metric.name },
          'aria-label': `Insert ${metric.name}`,
          text: 'Insert',
        }),
      ]),
      el('div', { class: 'metric-facts', text: facts.join(' · ') }),
      metric.description ? el('div', { class: 'metric-description', text: metric.description }) : null,
      metric.as_of ? el('div', { class: 'metric-description', text: `As of a date: ${metric.as_of}` }) : null,
    ]);
  }

  function filterCatalog() {
    const words = $('catalog-filter').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    for (const item of $('catalog-list').children) {
      const text = item.textContent.toLowerCase();
      item.hidden = !words.every((word) => text.includes(word));
    }
  }

  function initCatalog() {
    $('catalog-filter').addEventListener('input', filterCatalog);
    $('catalog-list').addEventListener('click', (event) => {
      const button = event.target.closest('.insert-metric');
      if (button) state.editor.insert(button.dataset.metric);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Inputs: the fixture, pasted JSON/NDJSON, or an uploaded file.

  /**
   * Beneficiaries from text: a JSON array, one object, `{"beneficiaries": [...]}`, or NDJSON.
   * Returns `{items, bad}`: in NDJSON, a line that cannot be read is listed in `bad` by its
   * number and the other lines are kept.
   */
  function parseBeneficiaries(text) {
    if (text.trim() === '') return { items: [], bad: [] };
    let whole;
    try {
      whole = JSON.parse(text);
    } catch (error) {
      return parseNdjson(text, error);
    }
    if (Array.isArray(whole)) return { items: whole, bad: [] };
    if (whole && typeof whole === 'object') {
      return { items: Array.isArray(whole.beneficiaries) ? whole.beneficiaries : [whole], bad: [] };
    }
    throw new Error('expected a JSON array of beneficiaries, one beneficiary object, {"beneficiaries": [...]}, or NDJSON');
  }

  /** Why a line is not JSON, said plainly where the mistake is a common one. */
  function plainJsonError(line, error) {
    if (/,\s*}/.test(line)) return 'a comma before `}`';
    if (/,\s*]/.test(line)) return 'a comma before `]`';
    if (/[“”‘’]/.test(line)) return 'curly quotes: JSON needs straight quotes "…"';
    if (/^\s*\{/.test(line) && !/\}\s*$/.test(line)) return 'the `{` is never closed';
    if (/'/.test(line) && !/"/.test(line)) return "single quotes: JSON needs double quotes \"…\"";
    return `not JSON (${error.message})`;
  }

  /** What the bad lines of a list say, for the counts and the status. */
  function badLinesText(bad) {
    if (!bad || bad.length === 0) return '';
    const shown = bad.slice(0, 3).map((b) => `line ${b.line}: ${b.message}`).join('; ');
    const more = bad.length > 3 ? `; and ${bad.length - 3} more` : '';
    return `${plural(bad.length, 'line', 'lines')} could not be read (${shown}${more})`;
  }

  function parsesAlone(line) {
    try {
      JSON.parse(line);
      return true;
    } catch (_) {
      return false;
    }
  }

  /** NDJSON: one object per line. A bad line is reported by its number. */
  function parseNdjson(text, wholeError) {
    const lines = text.split(/\r?\n/);
    const first = lines.findIndex((line) => line.trim() !== '');
    // A pretty-printed document spans lines without being NDJSON: if its first line is not a
    // document alone, the error of the whole text is the one to show.
    if (!parsesAlone(lines[first])) throw new Error(locateJsonError(text, wholeError));
    const items = [];
    const bad = [];
    const numbers = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        items.push(JSON.parse(line));
        numbers.push(i + 1);
      } catch (error) {
        bad.push({ line: i + 1, message: plainJsonError(line, error) });
      }
    });
    // Each item's line, so that the server's `beneficiaries[k]` is told as the line it came from.
    return { items, bad, lines: numbers };
  }

  /** A JSON.parse error with its line, computed from "position N" when the engine gives only that. */
  function locateJsonError(text, error) {
    const message = error.message;
    if (/\bline \d+/.test(message)) return message;
    const position = /position (\d+)/.exec(message);
    if (!position) return text.trim().includes('\n') ? message : `line 1: ${message}`;
    const line = text.slice(0, Number(position[1])).split('\n').length;
    return `line ${line}: ${message}`;
  }

  function inputSource() {
    return $('input-source').value;
  }

  /** The pasted or uploaded list when one is chosen (its bad lines and each item's line), else nothing. */
  function chosenInput() {
    if (inputSource() === 'paste') return state.pasted;
    if (inputSource() === 'file') return state.uploaded;
    return {};
  }

  /** What a rule check holds for: the text and the households that typed its fields. */
  function checkKey(text, sample) {
    return `${text}\u0000${inputSource()}:${sample.length}`;
  }

  /** The most beneficiaries sent with a rule check to type its fields. */
  const SAMPLE_FOR_CHECKS = 200;

  /** The beneficiaries already loaded from the chosen source (nothing is fetched or parsed anew). */
  function loadedSample() {
    const source = inputSource();
    let items = state.uploaded.error ? [] : state.uploaded.items;
    if (source === 'fixture') items = state.samples ? state.samples.beneficiaries : [];
    if (source === 'paste') items = state.pasted.error ? [] : state.pasted.items;
    return (items || []).slice(0, SAMPLE_FOR_CHECKS);
  }

  async function loadSamples() {
    if (state.samples) return state.samples;
    if (!state.samplesLoading) {
      state.samplesLoading = api('GET', '/v1/samples')
        .then((answer) => {
          state.samples = {
            source: answer.source || 'the sample households',
            beneficiaries: Array.isArray(answer.beneficiaries) ? answer.beneficiaries : [],
            rules: Array.isArray(answer.rules) ? answer.rules : [],
          };
          showExamples(state.samples.rules);
          return state.samples;
        })
        .finally(() => {
          state.samplesLoading = null;
          showInputCount();
        });
    }
    return state.samplesLoading;
  }

  /** The seed rules, by name, in the examples menu. */
  function showExamples(rules) {
    const menu = $('examples');
    const first = menu.options[0];
    menu.replaceChildren(first, ...rules.map((r) => el('option', { value: r.rule, text: `${r.name.replace(/_/g, ' ')} — ${r.rule}` })));
  }

  /** Puts the chosen example in the editor (undoable), then the menu goes back to its prompt. */
  function useExample() {
    const menu = $('examples');
    const rule = menu.value;
    if (!rule) return;
    const editor = state.editor;
    replaceRange(editor, rule, 0, editor.textarea.value.length);
    editor.changed({ complete: false });
    const name = menu.options[menu.selectedIndex].text.split(' — ')[0];
    menu.value = '';
    setStatus(`The example “${name}” is in the editor (Ctrl+Z brings back your rule).`);
  }

  /** The loaded beneficiaries of the chosen source; throws with a message for people. */
  async function currentBeneficiaries() {
    const source = inputSource();
    if (source === 'fixture') return (await loadSamples()).beneficiaries;
    if (source === 'paste') {
      readPasted();
      if (state.pasted.error) throw new Error(`The pasted beneficiaries cannot be read: ${state.pasted.error}`);
      return state.pasted.items;
    }
    if (state.uploaded.error) throw new Error(state.uploaded.error);
    return state.uploaded.items;
  }

  function showInputCount() {
    const count = $('input-count');
    const source = inputSource();
    let text;
    let error = null;
    if (source === 'fixture') {
      text = state.samples
        ? `${plural(state.samples.beneficiaries.length, 'beneficiary', 'beneficiaries')} loaded from ${state.samples.source}`
        : state.samplesLoading
          ? 'Loading the sample households…'
          : 'Sample households not loaded yet';
    } else if (source === 'paste') {
      error = state.pasted.error || badLinesText(state.pasted.bad) || null;
      text = `${plural(state.pasted.items.length, 'beneficiary', 'beneficiaries')} pasted`;
    } else {
      error = state.uploaded.error || badLinesText(state.uploaded.bad) || null;
      text = state.uploaded.name
        ? `${plural(state.uploaded.items.length, 'beneficiary', 'beneficiaries')} loaded from ${state.uploaded.name}`
        : 'No file chosen';
    }
    count.textContent = error ? `${text}. ${error}` : text;
    count.classList.toggle('error', Boolean(error));
  }

  function readPasted() {
    const previous = state.pasted.error;
    try {
      const { items, bad, lines } = parseBeneficiaries($('input-text').value);
      state.pasted = { items, bad, lines, error: null };
    } catch (error) {
      state.pasted = { items: [], bad: [], error: error.message };
    }
    showInputCount();
    if (state.pasted.error && state.pasted.error !== previous) {
      setStatus(`The pasted beneficiaries cannot be read: ${state.pasted.error}`, 'error');
    } else if (!state.pasted.error && previous) {
      clearStatusIf(`The pasted beneficiaries cannot be read: ${previous}`);
    }
  }

  async function readFile() {
    const file = $('input-file').files[0];
    if (!file) {
      state.uploaded = { items: [], error: null, name: '' };
      showInputCount();
      return;
    }
    // Bounded before reading: a large file would freeze the tab and exceed the API's limits anyway.
    if (file.size > MAX_FILE_BYTES) {
      const message = `The file “${file.name}” is ${formatBytes(file.size)}; the bound is ${formatBytes(MAX_FILE_BYTES)}. It was not read.`;
      state.uploaded = { items: [], error: message, name: file.name };
      showInputCount();
      setStatus(message, 'error');
      return;
    }
    try {
      const { items, bad, lines } = parseBeneficiaries(await file.text());
      state.uploaded = { items, bad, lines, error: null, name: file.name };
      const unread = bad.length > 0 ? ` ${badLinesText(bad)}.` : '';
      setStatus(`Read ${plural(items.length, 'beneficiary', 'beneficiaries')} from ${file.name}.${unread}`);
    } catch (error) {
      const message = `The file “${file.name}” cannot be read: ${error.message}`;
      state.uploaded = { items: [], error: message, name: file.name };
      setStatus(message, 'error');
    }
    showInputCount();
  }

  function sourceChanged() {
    const source = inputSource();
    $('input-paste').hidden = source !== 'paste';
    $('input-upload').hidden = source !== 'file';
    if (source === 'fixture' && !state.samples && getKey()) loadSamples().catch((error) => reportError(error, 'Loading the sample households'));
    if (source === 'paste') readPasted();
    showInputCount();
  }

  function initInputs() {
    $('as-of').value = today();
    $('input-source').addEventListener('change', sourceChanged);
    let timer = 0;
    $('input-text').addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(readPasted, PASTE_DELAY_MS);
    });
    $('input-file').addEventListener('change', () => readFile().catch((error) => reportError(error)));
    sourceChanged();
  }

  // ---------------------------------------------------------------------------------------
  // Checks before a run: a rule that is written and valid, beneficiaries that are loaded.

  /** The editor's text if it is valid; otherwise says why in the status area and returns null. */
  async function validRule(editor, what) {
    if (!getKey()) {
      showKeyForm('Enter the API key to start.');
      setStatus('Enter the API key first.', 'error');
      return null;
    }
    const text = editor.text();
    if (text.trim() === '') {
      setStatus(`Write ${what} first.`, 'error');
      editor.textarea.focus();
      return null;
    }
    const report = await editor.currentReport();
    if (!report) {
      setStatus(`${capitalise(what)} could not be checked.`, 'error');
      return null;
    }
    if (!report.valid) {
      const first = report.diagnostics.find((d) => d.severity !== 'warning');
      const where = first ? ` (${first.line}:${first.column} ${first.message})` : '';
      setStatus(`${capitalise(what)} has errors${where}: fix them first.`, 'error');
      return null;
    }
    return text;
  }

  async function loadedBeneficiaries() {
    const items = await currentBeneficiaries();
    if (items.length === 0) {
      setStatus('No beneficiaries loaded: choose the sample households, paste some, or upload a file.', 'error');
      return null;
    }
    return items;
  }

  // ---------------------------------------------------------------------------------------
  // Evaluate and the results table

  /** The one decision of a result item (the single rule is named `rule`). */
  function decisionOf(result) {
    const outcomes = (result && result.outcomes) || {};
    return outcomes.rule || Object.values(outcomes)[0] || null;
  }

  function outcomeOf(result) {
    if (!result || result.error) return 'invalid';
    const decision = decisionOf(result);
    return (decision && decision.outcome) || 'error';
  }

  function missingText(missing) {
    return (missing || []).map((m) => `${m.name} (${m.cause})`).join(', ');
  }

  /** Where input item `index` came from: its line of NDJSON, else its position in the list (from 1). */
  function placeOf(index, lines) {
    return Array.isArray(lines) && lines[index] ? `line ${lines[index]}` : `item ${index + 1}`;
  }

  /** Why an input could not be read, told by its place (`line 4: …`) rather than `beneficiaries[3]`. */
  function invalidText(error, place) {
    if (!error) return 'invalid';
    const unindexed = (text) => String(text || '').replace(/beneficiaries\[\d+\]\.?/g, '');
    const message = unindexed(error.message || error.code || 'invalid').replace(/^[:\s]+/, '');
    const field = unindexed(error.path);
    const said = field && !message.includes(field) ? `${message} (${field})` : message;
    return place ? `${place}: ${said}` : said;
  }

  function badge(outcome) {
    return el('span', { class: `outcome outcome-${outcome}`, text: outcome });
  }

  function countSpan(attribute, kind, count, words) {
    return el('span', { class: 'count', [attribute]: kind }, [el('b', { text: String(count) }), ` ${words}`]);
  }

  async function evaluate() {
    const rule = await validRule(state.editor, 'the rule');
    if (rule === null) return;
    const items = await loadedBeneficiaries();
    if (!items) return;
    const date = asOf();
    setStatus(`Evaluating ${plural(items.length, 'beneficiary', 'beneficiaries')}…`);
    let answer;
    try {
      answer = await api('POST', '/v1/evaluate', { rule, as_of: date, explain: may('explain'), beneficiaries: items });
    } catch (error) {
      if (error.code === 'invalid_rule') showRuleErrors(error, { default: state.editor });
      throw error;
    }
    const chosen = chosenInput();
    const results = Array.isArray(answer.results) ? answer.results : [];
    state.run = { rule, asOf: date, items, results, bad: chosen.bad || [], lines: chosen.lines || null };
    renderResults(answer.summary || {});
    hideExplanation();
    markStale();
    // The answer is what was asked for: the focus goes to its summary (the skip link's target too).
    $('results-summary').focus({ preventScroll: true });
    $('results-panel').scrollIntoView({ block: 'nearest' });
  }

  /** Marks the shown results out of date when the rule or the date has changed since they were evaluated. */
  function markStale() {
    const run = state.run;
    const changed = run ? changedSinceRun(run) : '';
    const note = $('results-stale');
    note.hidden = changed === '';
    note.textContent = changed ? `Out of date${changed}: these results are of the rule as it was. Evaluate again to update them.` : '';
    $('results').classList.toggle('is-stale', changed !== '');
  }

  function renderResults(summary) {
    const run = state.run;
    const counts = { eligible: 0, ineligible: 0, undetermined: 0, error: 0, invalid: 0 };
    const rows = run.results.map((result, index) => {
      const outcome = outcomeOf(result);
      counts[outcome] = (counts[outcome] || 0) + 1;
      return resultRow(result, index, outcome);
    });
    $('results').tBodies[0].replaceChildren(...rows);
    state.rowStop = null;
    state.explainedRow = null;
    $('results-wrap').hidden = rows.length === 0;
    const spans = OUTCOMES.map((outcome) => countSpan('data-outcome', outcome, counts[outcome], outcome));
    if (counts.invalid > 0) spans.push(countSpan('data-outcome', 'invalid', counts.invalid, 'invalid'));
    $('counts').replaceChildren(...spans);
    $('results-empty').hidden = rows.length > 0;
    $('results-empty').textContent = 'No results.';
    $('results-summary').textContent = summaryText(summary, run);
    applyOutcomeFilter();
    const shown = OUTCOMES.map((o) => `${counts[o]} ${o}`).join(', ');
    const invalid = counts.invalid ? `, ${counts.invalid} invalid` : '';
    const unread = run.bad && run.bad.length > 0 ? ` ${badLinesText(run.bad)}.` : '';
    setStatus(`Evaluated ${plural(rows.length, 'beneficiary', 'beneficiaries')} as of ${run.asOf}: ${shown}${invalid}.${unread}`);
  }

  function summaryText(summary, run) {
    const parts = [`As of ${summary.as_of || run.asOf}`, plural(run.results.length, 'beneficiary', 'beneficiaries')];
    if (typeof summary.round_trips === 'number') parts.push(plural(summary.round_trips, 'registry round trip', 'registry round trips'));
    if (typeof summary.cache_hits === 'number') parts.push(plural(summary.cache_hits, 'cache hit', 'cache hits'));
    if (typeof summary.wall_ms === 'number') parts.push(`${summary.wall_ms} ms`);
    if (run.bad && run.bad.length > 0) parts.push(badLinesText(run.bad));
    return parts.join(' · ');
  }

  function resultRow(result, index, outcome) {
    const item = state.run.items[index];
    const id = result && !result.error && result.id !== undefined ? String(result.id) : idOfInput(item, index, state.run.lines);
    let detail;
    if (outcome === 'invalid') detail = invalidText(result && result.error, placeOf(index, state.run.lines));
    else {
      const decision = decisionOf(result) || {};
      detail = decision.reason || decision.error || missingText(decision.missing) || '—';
    }
    // Out of the tab order, row and box alike: one row at a time is put back in (see setRowStop).
    return el('tr', { tabindex: -1, data: { id, outcome, index } }, [
      el('td', { class: 'col-select', 'data-label': 'Select for the export' }, [
        el('input', {
          type: 'checkbox',
          class: 'select-row',
          id: `select-row-${index}`,
          name: 'select-row',
          value: String(index),
          tabindex: -1,
          'aria-label': `Select ${id}`,
        }),
      ]),
      el('td', { class: 'id', 'data-label': 'Beneficiary' }, [id, personName(item)]),
      el('td', { 'data-label': 'Outcome' }, [badge(outcome)]),
      el('td', { class: 'detail', 'data-label': 'Reason' }, [detail]),
    ]);
  }

  /** The person's name under the id, when the input gives one. */
  function personName(item) {
    const name = nameOf(item);
    return name ? el('span', { class: 'person-name', text: name }) : null;
  }

  function nameOf(item) {
    return item && typeof item === 'object' && typeof item.name === 'string' ? item.name.trim() : '';
  }

  /** A name for an input that could not be read: its id when it has one, else its position. */
  function idOfInput(item, index, lines) {
    if (item && typeof item === 'object' && (typeof item.id === 'string' || typeof item.id === 'number')) return String(item.id);
    return placeOf(index, lines);
  }

  function resultRows() {
    return [...$('results').tBodies[0].rows];
  }

  function shownRows() {
    return resultRows().filter((row) => !row.hidden);
  }

  function applyOutcomeFilter() {
    const filter = $('outcome-filter').value;
    for (const row of resultRows()) row.hidden = filter !== 'all' && row.dataset.outcome !== filter;
    syncSelectAll();
    keepRowStop();
  }

  // Keyboard in the results table (a roving tabindex): the table is one tab stop, at the row last
  // visited; the arrow keys, Home and End move between the shown rows; Enter or Space explains the
  // row; X selects it for the export.

  /** Makes `row` the results table's one tab stop. */
  function setRowStop(row) {
    const previous = state.rowStop;
    if (previous === row) return;
    if (previous) previous.tabIndex = -1;
    state.rowStop = row;
    if (row) row.tabIndex = 0;
  }

  /** After a render or a filter: the tab stop is on a shown row, if any is shown. */
  function keepRowStop() {
    const current = state.rowStop;
    if (current && current.isConnected && !current.hidden) return;
    setRowStop(shownRows()[0] || null);
  }

  function focusRow(row) {
    if (!row) return;
    setRowStop(row);
    row.focus();
  }

  /** The shown row `step` rows from `row` (clamped to the first and the last). */
  function rowFrom(row, step) {
    const shown = shownRows();
    if (shown.length === 0) return null;
    const at = shown.indexOf(row);
    const target = at < 0 ? 0 : Math.max(0, Math.min(shown.length - 1, at + step));
    return shown[target];
  }

  function toggleRowSelection(row) {
    const box = row.querySelector('.select-row');
    box.checked = !box.checked;
    syncSelectAll();
    const count = shownRows().filter((r) => r.querySelector('.select-row').checked).length;
    setStatus(`${row.dataset.id} ${box.checked ? 'selected' : 'not selected'} for the export; ${count} selected.`);
  }

  function onResultsKeyDown(event) {
    const row = event.target.closest('tr[data-index]');
    if (!row) return;
    const onRow = event.target === row;
    const modified = event.ctrlKey || event.metaKey || event.altKey;
    const shown = shownRows();
    let target;
    if (modified) return;
    if (event.key === 'ArrowDown') target = rowFrom(row, 1);
    else if (event.key === 'ArrowUp') target = rowFrom(row, -1);
    else if (event.key === 'PageDown') target = rowFrom(row, 10);
    else if (event.key === 'PageUp') target = rowFrom(row, -10);
    else if (event.key === 'Home' && onRow) target = shown[0];
    else if (event.key === 'End' && onRow) target = shown[shown.length - 1];
    else if ((event.key === 'Enter' || event.key === ' ') && onRow && !event.shiftKey) {
      event.preventDefault();
      explainRow(row, { focus: true });
      return;
    } else if ((event.key === 'x' || event.key === 'X') && onRow) {
      event.preventDefault();
      toggleRowSelection(row);
      return;
    } else return;
    event.preventDefault();
    focusRow(target);
  }

  /** "Select all shown": checked when every shown row is, mixed when some are. */
  function syncSelectAll() {
    const boxes = shownRows().map((row) => row.querySelector('.select-row'));
    const checked = boxes.filter((box) => box.checked).length;
    const all = $('select-all');
    all.checked = boxes.length > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
  }

  function selectAllShown() {
    const value = $('select-all').checked;
    for (const row of shownRows()) row.querySelector('.select-row').checked = value;
    syncSelectAll();
  }

  function initResults() {
    $('outcome-filter').addEventListener('change', applyOutcomeFilter);
    $('select-all').addEventListener('change', selectAllShown);
    const body = $('results').tBodies[0];
    body.addEventListener('change', (event) => {
      if (event.target.classList.contains('select-row')) syncSelectAll();
    });
    body.addEventListener('click', (event) => {
      if (event.target.closest('input, label, a, button')) return;
      const row = event.target.closest('tr[data-index]');
      if (row) explainRow(row);
    });
    body.addEventListener('keydown', onResultsKeyDown);
    // Focus that comes by a click (on a row or its box) moves the tab stop along.
    body.addEventListener('focusin', (event) => {
      const row = event.target.closest('tr[data-index]');
      if (row) setRowStop(row);
    });
    // Escape in the explanation goes back to the row it explains.
    $('explanation').addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      const row = state.explainedRow;
      if (!row || !row.isConnected || row.hidden) return;
      event.preventDefault();
      focusRow(row);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Explanation of one decision

  function hideExplanation() {
    state.explainSeq++;
    $('explanation').hidden = true;
  }

  function markCurrentRow(row) {
    state.explainedRow = row;
    for (const other of resultRows()) {
      other.classList.toggle('current', other === row);
      if (other === row) other.setAttribute('aria-current', 'true');
      else other.removeAttribute('aria-current');
    }
  }

  /**
   * Shows why `row` came out as it did. `focus` (when asked from the keyboard): the focus goes to
   * the explanation's heading, and Escape there brings it back to the row.
   */
  async function explainRow(row, { focus = false } = {}) {
    const run = state.run;
    if (!run) return;
    if (!may('explain')) {
      setStatus('This API key may not see explanations (it has no `explain` scope).');
      return;
    }
    const index = Number(row.dataset.index);
    const result = run.results[index];
    markCurrentRow(row);
    if (!result || result.error) {
      showInvalidExplanation(row.dataset.id, invalidText(result && result.error, placeOf(index, run.lines)), focus);
      return;
    }
    const seq = ++state.explainSeq;
    const section = $('explanation');
    section.hidden = false;
    section.setAttribute('aria-busy', 'true');
    // The heading is this row's at once, and the tables of the previous one are not left under it.
    setExplanationHeading(row.dataset.id, row.dataset.outcome, nameOf(run.items[index]));
    $('explanation-note').textContent = `Explaining ${row.dataset.id}…`;
    $('explanation-clauses').tBodies[0].replaceChildren();
    $('explanation-metrics').tBodies[0].replaceChildren();
    if (focus) focusExplanation();
    try {
      const answer = await api('POST', '/v1/explain', { rule: run.rule, as_of: run.asOf, beneficiary: run.items[index] });
      if (seq !== state.explainSeq) return;
      renderExplanation(answer, row.dataset.id, nameOf(run.items[index]));
    } catch (error) {
      if (seq !== state.explainSeq) return;
      $('explanation-note').textContent = `No explanation: ${error.message}`;
      reportError(error, `Explaining ${row.dataset.id}`);
    } finally {
      if (seq === state.explainSeq) section.removeAttribute('aria-busy');
    }
  }

  function setExplanationHeading(id, outcome, name) {
    $('explanation-heading').replaceChildren(name ? `${id} (${name}) — ` : `${id} — `, badge(outcome));
  }

  /** Focus on the explanation's heading, with as much of the explanation in view as fits. */
  function focusExplanation() {
    $('explanation-heading').focus({ preventScroll: true });
    $('explanation').scrollIntoView({ block: 'nearest' });
  }

  function showInvalidExplanation(id, why, focus) {
    state.explainSeq++;
    $('explanation').hidden = false;
    $('explanation').removeAttribute('aria-busy');
    setExplanationHeading(id, 'invalid');
    $('explanation-note').textContent = `This input could not be read, so no rule was evaluated for it: ${why}`;
    $('explanation-clauses').tBodies[0].replaceChildren();
    $('explanation-metrics').tBodies[0].replaceChildren();
    if (focus) focusExplanation();
    else $('explanation').scrollIntoView({ block: 'nearest' });
  }

  function renderExplanation(answer, fallbackId, name) {
    const decision = answer.decision || {};
    const outcome = decision.outcome || 'error';
    setExplanationHeading(answer.id !== undefined ? String(answer.id) : fallbackId, outcome, name);
    $('explanation-reason').textContent = decision.reason || '';
    const notes = [];
    if (decision.error && !decision.reason) notes.push(`Error: ${decision.error}.`);
    if (decision.missing && decision.missing.length && !decision.reason) notes.push(`Missing: ${missingText(decision.missing)}.`);
    notes.push(`The rule as evaluated, as of ${state.run.asOf}${changedSinceRun(state.run)}.`);
    $('explanation-note').textContent = notes.join(' ');
    const clauses = Array.isArray(decision.clauses) ? decision.clauses : [];
    $('explanation-clauses').tBodies[0].replaceChildren(...clauses.map(clauseRow));
    if (clauses.length === 0) $('explanation-clauses').tBodies[0].append(emptyRow(3, 'No clauses reported.'));
    const metrics = Array.isArray(answer.metrics) ? answer.metrics : [];
    $('explanation-metrics').tBodies[0].replaceChildren(...metrics.map(metricRow));
    if (metrics.length === 0) $('explanation-metrics').tBodies[0].append(emptyRow(5, 'The rule reads no registry values.'));
    // A section taller than the window comes in by its top: the heading stays in view.
    $('explanation').scrollIntoView({ block: 'nearest' });
  }

  function emptyRow(columns, text) {
    return el('tr', { class: 'empty' }, [el('td', { colspan: columns, text })]);
  }

  /** A clause's value as a badge: true, false, unknown, not needed, error, or another value. */
  function valueBadge(value) {
    const text = formatValue(value);
    const kind = ['true', 'false', 'unknown', 'error', 'not_needed'].includes(text) ? text.replace('_', '-') : 'other';
    return el('span', { class: `value value-${kind}`, text: VALUE_WORDS[text] || text });
  }

  /** The values a clause used, as `expr = value` (those the decision had). */
  function usedText(clause) {
    const used = Array.isArray(clause.used) ? clause.used : [];
    return used
      .filter((u) => u.value !== 'unknown' && u.value !== 'not_needed')
      .map((u) => `${u.expr} = ${JSON.stringify(u.value)}`)
      .join(', ');
  }

  function clauseRow(clause) {
    const used = usedText(clause);
    const says = clause.value === 'not_needed' ? 'the other clauses decided without it' : clause.says || '';
    return el('tr', {}, [
      el('td', { 'data-label': 'Clause' }, [code(clause.clause || '')]),
      el('td', { 'data-label': 'Value' }, [valueBadge(clause.value)]),
      el('td', { 'data-label': 'In words' }, [
        says || (clause.error ? `error: ${clause.error}` : '—'),
        used ? el('span', { class: 'used', text: `used: ${used}` }) : null,
      ]),
    ]);
  }

  /** Where a value came from, in words: the registry now, a cached answer, or why it is unknown. */
  function sourceWords(metric) {
    return SOURCE_WORDS[metric.source] || metric.cause_text || 'unknown';
  }

  function metricRow(metric) {
    const unknown = !(metric.source in SOURCE_WORDS);
    const notNeeded = metric.cause === 'not_fetched';
    const detail = notNeeded ? '' : metric.detail || '';
    return el('tr', { data: { source: metric.source || 'unknown' } }, [
      el('td', { 'data-label': 'Person', text: metric.person || '—' }),
      el('td', { 'data-label': 'Metric' }, [code(metric.metric || '')]),
      el('td', { 'data-label': 'Value', text: 'value' in metric && metric.value !== null ? formatValue(metric.value) : '—' }),
      el('td', { 'data-label': 'Source', class: unknown && !notNeeded ? 'source-unknown' : '', text: sourceWords(metric) }),
      el('td', { 'data-label': 'Why / detail', text: detail || '—' }),
    ]);
  }

  // ---------------------------------------------------------------------------------------
  // Compare: the diff from the compared rule (old) to the edited rule (new)

  async function compare() {
    const oldRule = await validRule(state.compareEditor, 'the rule to compare with');
    if (oldRule === null) return;
    const newRule = await validRule(state.editor, 'the edited rule');
    if (newRule === null) return;
    const items = await loadedBeneficiaries();
    if (!items) return;
    const date = asOf();
    setStatus(`Comparing the rules on ${plural(items.length, 'beneficiary', 'beneficiaries')}…`);
    let answer;
    try {
      answer = await api('POST', '/v1/diff', { old: oldRule, new: newRule, as_of: date, beneficiaries: items });
    } catch (error) {
      if (error.code === 'invalid_rule') showRuleErrors(error, { old: state.compareEditor, new: state.editor, default: state.editor });
      throw error;
    }
    const chosen = chosenInput();
    state.comparison = { oldRule, newRule, asOf: date, items, lines: chosen.lines || null };
    $('diff-explanation').hidden = true;
    renderDiff(answer, items, date);
  }

  function renderDiff(answer, items, date) {
    const counts = answer.counts || {};
    const spans = CHANGES.map(([change, words]) => countSpan('data-change', change, counts[change] || 0, words));
    if (counts.invalid > 0) spans.push(countSpan('data-change', 'invalid', counts.invalid, 'invalid'));
    $('diff-counts').replaceChildren(...spans);
    const changed = Array.isArray(answer.changed) ? answer.changed : [];
    const invalid = Array.isArray(answer.invalid) ? answer.invalid : [];
    const rows = changed.map(diffRow).concat(invalid.map((entry) => invalidDiffRow(entry, items)));
    $('diff-table').tBodies[0].replaceChildren(...rows);
    $('diff-wrap').hidden = rows.length === 0;
    const moved = changed.length;
    $('diff-summary').textContent =
      `As of ${date}: ${plural(moved, 'beneficiary changes', 'beneficiaries change')} outcome` +
      (moved === 0 ? ' — the two rules decide these households alike.' : '.');
    const gained = counts.gained || 0;
    const lost = counts.lost || 0;
    setStatus(`Compared: ${gained} gain eligibility, ${lost} lose eligibility, ${plural(moved, 'change', 'changes')} in all.`);
  }

  function outcomeChange(oldDecision, newDecision) {
    return el('span', { class: 'change' }, [
      badge((oldDecision && oldDecision.outcome) || 'error'),
      ' → ',
      badge((newDecision && newDecision.outcome) || 'error'),
    ]);
  }

  function clauseChange(clause) {
    const side = (present, value) => (present ? VALUE_WORDS[formatValue(value)] || formatValue(value) : '—');
    const text = clause.was ? [code(clause.was), ' → ', code(clause.clause || '')] : [code(clause.clause || '')];
    return el('li', {}, [
      ...text,
      ' ',
      el('span', { class: 'clause-values' }, [
        el('span', { class: 'clause-old', text: side('old' in clause, clause.old) }),
        ' → ',
        el('span', { class: 'clause-new', text: side('new' in clause, clause.new) }),
      ]),
    ]);
  }

  function diffRow(entry) {
    const words = (CHANGES.find(([change]) => change === entry.change) || [null, entry.change])[1];
    const id = entry.id !== undefined ? String(entry.id) : `#${entry.index + 1}`;
    const clauses = Array.isArray(entry.clauses) ? entry.clauses : [];
    // A changed row opens both decisions side by side (click, or Enter on the row).
    return el('tr', { tabindex: 0, data: { id, change: entry.change || 'other', index: entry.index } }, [
      el('td', { class: 'id', 'data-label': 'Beneficiary', text: id }),
      el('td', { 'data-label': 'Change' }, [
        el('span', { class: `change-word change-${entry.change}`, text: words }),
        el('div', { class: 'change-outcomes' }, [outcomeChange(entry.old, entry.new)]),
      ]),
      el('td', { 'data-label': 'Clauses that differ' }, clauses.length ? [el('ul', { class: 'clause-changes' }, clauses.map(clauseChange))] : ['—']),
    ]);
  }

  function invalidDiffRow(entry, items) {
    const lines = state.comparison ? state.comparison.lines : null;
    const id = idOfInput(items[entry.index], entry.index || 0, lines);
    return el('tr', { data: { id, change: 'invalid' } }, [
      el('td', { class: 'id', 'data-label': 'Beneficiary', text: id }),
      el('td', { 'data-label': 'Change' }, [el('span', { class: 'change-word change-invalid', text: 'invalid' })]),
      el('td', { 'data-label': 'Clauses that differ', text: invalidText(entry.error, placeOf(entry.index || 0, lines)) }),
    ]);
  }

  /** Both explanations of a changed row, side by side: the compared rule's and the edited rule's. */
  async function explainBoth(row) {
    const comparison = state.comparison;
    if (!comparison) return;
    const index = Number(row.dataset.index);
    const beneficiary = comparison.items[index];
    const seq = ++state.compareSeq;
    const panel = $('diff-explanation');
    panel.hidden = false;
    $('diff-explanation-heading').textContent = `Both decisions for ${row.dataset.id}`;
    for (const side of ['old', 'new']) $(`diff-explanation-${side}`).replaceChildren('Explaining…');
    const ask = (rule) => api('POST', '/v1/explain', { rule, as_of: comparison.asOf, beneficiary });
    try {
      const [before, after] = await Promise.all([ask(comparison.oldRule), ask(comparison.newRule)]);
      if (seq !== state.compareSeq) return;
      $('diff-explanation-old').replaceChildren(...explanationSide(comparison.oldRule, before));
      $('diff-explanation-new').replaceChildren(...explanationSide(comparison.newRule, after));
      $('diff-explanation-heading').focus({ preventScroll: true });
      panel.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      if (seq !== state.compareSeq) return;
      for (const side of ['old', 'new']) $(`diff-explanation-${side}`).replaceChildren(`No explanation: ${error.message}`);
      reportError(error, `Explaining ${row.dataset.id}`);
    }
  }

  /** One side of the comparison: the rule, its outcome and reason, and each clause in words. */
  function explanationSide(rule, answer) {
    const decision = answer.decision || {};
    const clauses = Array.isArray(decision.clauses) ? decision.clauses : [];
    return [
      el('p', {}, [code(rule)]),
      el('p', { class: 'reason' }, [badge(decision.outcome || 'error'), ' ', decision.reason || '']),
      el(
        'ul',
        {},
        clauses.map((clause) => {
          const used = usedText(clause);
          return el('li', {}, [
            code(clause.clause || ''),
            ' ',
            valueBadge(clause.value),
            clause.value === 'not_needed' ? null : ` ${clause.says || ''}`,
            used ? el('span', { class: 'used', text: `used: ${used}` }) : null,
          ]);
        }),
      ),
    ];
  }

  function initDiff() {
    const body = $('diff-table').tBodies[0];
    body.addEventListener('click', (event) => {
      const row = event.target.closest('tr[data-index]');
      if (row) explainBoth(row);
    });
    body.addEventListener('keydown', (event) => {
      const row = event.target.closest('tr[data-index]');
      if (!row || event.target !== row || (event.key !== 'Enter' && event.key !== ' ')) return;
      event.preventDefault();
      explainBoth(row);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Export as a test file

  /** The input objects to export: the selected shown rows, or every shown row when none is. */
  function exportItems() {
    const shown = shownRows();
    const selected = shown.filter((row) => row.querySelector('.select-row').checked);
    const chosen = selected.length > 0 ? selected : shown;
    // An input that could not be read makes no test case.
    const usable = chosen.filter((row) => row.dataset.outcome !== 'invalid');
    return { items: usable.map((row) => state.run.items[Number(row.dataset.index)]), skipped: chosen.length - usable.length };
  }

  /** What changed in the editor or the date since the shown results were evaluated, in words. */
  function changedSinceRun(run) {
    const changes = [];
    if (run.rule !== state.editor.text()) changes.push('the editor');
    if (run.asOf !== asOf()) changes.push('the as-of date');
    return changes.length ? ` (${changes.join(' and ')} ${changes.length > 1 ? 'have' : 'has'} changed since)` : '';
  }

  /**
   * Exports the shown rows as a test file of the evaluation they came from: its rule and its date,
   * not whatever the editor and the date field hold now.
   */
  async function exportTest() {
    const run = state.run;
    if (!run || resultRows().length === 0) {
      setStatus('Evaluate first: the test file is made of the rows of the results table.', 'error');
      return;
    }
    if (!getKey()) {
      showKeyForm('Enter the API key to start.');
      setStatus('Enter the API key first.', 'error');
      return;
    }
    const { items, skipped } = exportItems();
    if (items.length === 0) {
      setStatus('No rows to export: show or select rows of readable beneficiaries.', 'error');
      return;
    }
    const body = { rule: run.rule, as_of: run.asOf, beneficiaries: items };
    const name = $('export-name').value.trim();
    if (name) body.name = name;
    let answer;
    try {
      answer = await api('POST', '/v1/rules/export-test', body);
    } catch (error) {
      // The diagnostics are about the evaluated rule: they go to the editor only if it still holds it.
      if (error.code === 'invalid_rule' && run.rule === state.editor.text()) showRuleErrors(error, { default: state.editor });
      throw error;
    }
    showExport(answer);
    const cases = typeof answer.cases === 'number' ? answer.cases : items.length;
    const note = skipped ? `; ${plural(skipped, 'invalid row', 'invalid rows')} left out` : '';
    setStatus(
      `Exported ${plural(cases, 'test case', 'test cases')} of the rule as evaluated, as of ${run.asOf}${changedSinceRun(run)}${note}.`,
    );
  }

  function showExport(answer) {
    const yaml = typeof answer.yaml === 'string' ? answer.yaml : '';
    $('export-text').value = yaml;
    // One download link at a time: the previous file's blob URL is released.
    if (state.exportUrl) URL.revokeObjectURL(state.exportUrl);
    state.exportUrl = URL.createObjectURL(new Blob([yaml], { type: 'application/yaml' }));
    const fileName = answer.file_name || 'rule-test.yaml';
    const link = $('export-download');
    link.href = state.exportUrl;
    link.download = fileName;
    link.textContent = `Download ${fileName}`;
    link.hidden = false;
  }

  // ---------------------------------------------------------------------------------------
  // Start

  /** Whether the key may do what `scope` covers (evaluate, explain, export, admin). */
  function may(scope) {
    return !state.access || state.access.scopes.includes(scope);
  }

  /** Shows only what the key may do: no explanation, comparison, export or data sources it cannot use. */
  function applyAccess() {
    const hide = (id, hidden) => {
      $(id).hidden = hidden;
    };
    hide('compare-panel', !may('explain'));
    hide('diff-panel', !may('explain'));
    hide('export-panel', !may('export'));
    hide('sources', !may('admin'));
    $('evaluate').disabled = !may('evaluate');
    $('results-hint').textContent = may('explain')
      ? 'Click a row, or press Enter on it, to see why. In the table, ↑/↓ move between rows and X selects a row for the export.'
      : 'This API key sees outcomes and what was missing, not the registry values behind them (it has no `explain` scope).';
    const access = state.access;
    if (access) $('api-key-state').textContent = `API key “${access.key}” set for this tab: ${access.scopes.join(', ')}`;
  }

  async function loadAccess() {
    const answer = await api('GET', '/v1/access');
    state.access = { key: String(answer.key || ''), scopes: Array.isArray(answer.scopes) ? answer.scopes : [] };
    applyAccess();
  }

  /** With a key: what it may do, then the catalog, the samples and the rule checks it may use. */
  async function startSession() {
    state.access = null;
    try {
      await loadAccess();
    } catch (error) {
      reportError(error, 'Reading what this API key may do');
      return;
    }
    loadCatalog().catch((error) => reportError(error, 'Loading the metric catalog'));
    if (may('admin')) loadSources().catch((error) => reportError(error, 'Checking the data sources'));
    // The samples hold the example rules too: loaded whatever the input choice.
    loadSamples().catch((error) => reportError(error, 'Loading the sample households and rules'));
    if (inputSource() === 'fixture') showInputCount();
    for (const editor of [state.editor, state.compareEditor]) {
      editor.checked = null;
      if (may('evaluate')) editor.validate().catch(() => {});
    }
  }

  // The rules, the input choice and the as-of date survive a reload: kept in this browser's
  // storage, never the beneficiaries nor the key.
  const KEPT_STORAGE = 'elig-playground-kept';

  function keep() {
    const kept = { rule: $('rule').value, compare: $('compare-rule').value, source: inputSource(), asOf: $('as-of').value };
    try {
      window.localStorage.setItem(KEPT_STORAGE, JSON.stringify(kept));
    } catch (_) {
      // Storage unavailable (private mode, a policy): nothing is kept.
    }
  }

  /** Puts back what `keep` kept; returns whether anything was. */
  function restoreKept() {
    let kept = null;
    try {
      kept = JSON.parse(window.localStorage.getItem(KEPT_STORAGE) || 'null');
    } catch (_) {
      kept = null;
    }
    if (!kept || typeof kept !== 'object') return false;
    if (typeof kept.rule === 'string') $('rule').value = kept.rule;
    if (typeof kept.compare === 'string') $('compare-rule').value = kept.compare;
    if (['fixture', 'paste', 'file'].includes(kept.source)) $('input-source').value = kept.source;
    if (typeof kept.asOf === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(kept.asOf)) $('as-of').value = kept.asOf;
    return true;
  }

  /** A link to this page holding the two rules (in the fragment, which no request carries), never the data or the key. */
  function linkToRules() {
    const params = new URLSearchParams();
    params.set('rule', state.editor.text());
    if (state.compareEditor.text().trim()) params.set('compare', state.compareEditor.text());
    return `${window.location.origin}${window.location.pathname}#${params.toString()}`;
  }

  async function copyLink() {
    const link = linkToRules();
    window.history.replaceState(null, '', link);
    try {
      await navigator.clipboard.writeText(link);
      setStatus('Link copied: it opens this page with these rules (not the beneficiaries, not the key).');
    } catch (_) {
      setStatus(`Copy this link (the clipboard was not available): ${link}`);
    }
  }

  /** Puts the rules of a shared link in the editors; returns whether the page was opened with one. */
  function restoreLinked() {
    const hash = window.location.hash.replace(/^#/, '');
    if (!hash) return false;
    const params = new URLSearchParams(hash);
    if (!params.has('rule')) return false;
    $('rule').value = params.get('rule');
    $('compare-rule').value = params.get('compare') || '';
    return true;
  }

  function makeEditor(id, options) {
    return new RuleEditor({
      textarea: $(id),
      marks: $(`${id}-marks`),
      stateEl: $(`${id}-state`),
      infoEl: $(`${id}-info`),
      ...options,
    });
  }

  function init() {
    // No form on this page is ever sent by the browser (the policy forbids it, and a key must
    // never travel in a URL or a body): every submit is handled here, whatever fails later.
    document.addEventListener('submit', (event) => event.preventDefault(), true);
    const evaluateButton = $('evaluate');
    const compareButton = $('compare');
    state.editor = makeEditor('rule', {
      diagnostics: $('diagnostics'),
      completions: $('completions'),
      optional: false,
      onSubmit: () => whileBusy(evaluateButton, evaluate),
    });
    state.compareEditor = makeEditor('compare-rule', {
      diagnostics: $('compare-diagnostics'),
      completions: $('compare-completions'),
      optional: true,
      onSubmit: () => whileBusy(compareButton, compare),
    });
    evaluateButton.addEventListener('click', () => whileBusy(evaluateButton, evaluate));
    compareButton.addEventListener('click', () => whileBusy(compareButton, compare));
    $('compare-copy').addEventListener('click', () => {
      const target = state.compareEditor.textarea;
      target.value = state.editor.text();
      state.compareEditor.changed({ complete: false });
      target.focus();
    });
    const exportButton = $('export');
    exportButton.addEventListener('click', () => whileBusy(exportButton, exportTest));
    $('copy-link').addEventListener('click', () => copyLink());
    $('examples').addEventListener('change', useExample);
    initCatalog();
    initInputs();
    const kept = restoreKept();
    // A shared link's rules win over those kept in this browser.
    const linked = restoreLinked();
    if (kept) sourceChanged();
    if (kept || linked) {
      for (const editor of [state.editor, state.compareEditor]) editor.changed({ complete: false });
    }
    $('input-source').addEventListener('change', keep);
    $('as-of').addEventListener('change', keep);
    $('as-of').addEventListener('change', markStale);
    $('rule').addEventListener('input', markStale);
    initResults();
    initDiff();
    initKeyControls();
    if (getKey()) startSession();
  }

  init();
})();
