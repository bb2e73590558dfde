//! What a rule may cost: a static worst-case estimate, checked when the rule
//! is compiled, and the runtime budget every evaluation runs under.
//!
//! **Units.** A *step* is the evaluation of one node of the expression: a
//! literal, a name, a field, an operator, a function call. Functions that
//! walk a string or a list cost one more step per [`BYTES_PER_STEP`] bytes or
//! per item. *Bytes* count the values an evaluation builds: strings, lists
//! and maps (16 bytes per item, plus their contents).
//!
//! **Static.** [`estimate`] walks the compiled expression once. A
//! comprehension (`all`, `exists`, `map`, `filter`, `count`, `sum`, ...)
//! costs its range's largest size times its body, so nested comprehensions
//! multiply. A list from the beneficiary's data counts as its configured
//! bound: `members` as [`Limits::max_members`], any other list field (or a
//! registry's list) as [`Limits::max_list_items`]. A value read from the data
//! costs one step to read; where a string from the data can multiply (a
//! growing `replace`) the rule is refused.
//!
//! **Runtime.** The estimate is only as good as those bounds (a CLI run does
//! not check them, a registry list has none), so the compiler rewrites every
//! comprehension: its range becomes `@halted() ? [] : @budget(range, bytes
//! per item)` ([`HALTED_FN`], [`BUDGET_FN`]) and the work of each iteration
//! `@tick(x, steps)` ([`TICK_FN`]), which charge the *actual* lengths and
//! check the batch's cancellation; reading a list, an object or a long string
//! from the data is charged by its size. Past the budget, the evaluation's
//! decision is `error` (`budget_exceeded`) whatever the expression returns,
//! and every later loop of that evaluation stops at once.

use std::cell::Cell;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue, operators};
use cel::{ExecutionError, FunctionContext};

use dci_metrics::{Catalog, MetricType};

use crate::compile::{DCI, Limits, MEMBERS, REGISTRANT};

/// The function wrapped around every comprehension's range: `@budget(range,
/// bytes per item)`. Names starting with `@` cannot be written in a rule.
pub(crate) const BUDGET_FN: &str = "@budget";

/// The function that says whether the evaluation was stopped: `@halted()`.
pub(crate) const HALTED_FN: &str = "@halted";
/// The function wrapped around each iteration's work: `@tick(x, steps)`.
pub(crate) const TICK_FN: &str = "@tick";
/// Functions whose value is a number, a bool, a timestamp or a duration.
const SCALAR_FUNCTIONS: &[&str] = &[
    "size",
    "int",
    "uint",
    "double",
    "bool",
    "timestamp",
    "duration",
    "type",
    "age_years",
    "age_months",
    "age_days",
    "today",
    "days_ago",
    "months_ago",
    "years_ago",
    "between",
    "date",
    "has",
    "exists",
    "all",
    "exists_one",
    "hasValue",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "math.abs",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.sign",
    "math.trunc",
    "math.isNaN",
    "math.isInf",
    "math.isFinite",
    "elig.sum",
    "elig.avg",
];

/// Steps a `matches` call counts: the interpreter compiles its pattern on each call.
const REGEX_STEPS: u64 = 1_000;

/// Bytes a string or list function walks per step.
pub const BYTES_PER_STEP: u64 = 64;
/// Bytes counted per list or map item, beside its contents.
const ITEM_BYTES: u64 = 16;

/// The worst-case size of a value: list or map items, and bytes in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Size {
    items: u64,
    bytes: u64,
}

/// What evaluating one node costs at worst.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Estimate {
    /// Steps.
    pub steps: u64,
    /// Bytes of values built.
    pub bytes: u64,
}

impl Estimate {
    fn plus(self, other: Estimate) -> Estimate {
        Estimate { steps: self.steps.saturating_add(other.steps), bytes: self.bytes.saturating_add(other.bytes) }
    }
    fn times(self, n: u64) -> Estimate {
        Estimate { steps: self.steps.saturating_mul(n), bytes: self.bytes.saturating_mul(n) }
    }
    fn exceeds(self, limits: &Limits) -> bool {
        self.steps > limits.max_steps || self.bytes > limits.max_bytes
    }
}

/// A node's estimate with the size of its value.
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    cost: Estimate,
    /// The cost without the loops of the comprehensions inside, which charge
    /// their own at run time.
    local: Estimate,
    size: Size,
    /// The value's size depends on the beneficiary's data (or a registry's).
    from_data: bool,
    /// For a list, the size of its largest element (what a loop variable over it holds).
    elem: Size,
    /// A value read from the data as it is: its size bounds a loop over it,
    /// but reading or comparing it is one step (it was not built, and its
    /// type is not known).
    read: bool,
}

/// The result of estimating a rule.
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleEstimate {
    /// The whole rule, worst case.
    pub(crate) total: Estimate,
    /// The smallest sub-expression whose estimate alone is over the limits:
    /// its place in the rule, and its estimate.
    pub(crate) culprit: Option<(Range<usize>, Estimate)>,
    /// Comprehensions over data whose bound the estimate had to assume,
    /// with the estimate of each.
    pub(crate) data_loops: Vec<(Range<usize>, Estimate)>,
}

/// Estimates `expr` and rewrites its comprehensions to be metered (see the
/// module's documentation). `place` gives a sub-expression's place in the rule's text.
pub(crate) fn estimate(
    expr: &mut IdedExpr,
    limits: &Limits,
    catalog: &Catalog,
    place: &dyn Fn(&IdedExpr) -> Range<usize>,
) -> RuleEstimate {
    let mut walk =
        Walk { limits, catalog, place, bound: Vec::new(), children: Vec::new(), result: RuleEstimate::default() };
    let node = walk.node(expr);
    walk.result.total = node.cost;
    walk.result
}

struct Walk<'a> {
    limits: &'a Limits,
    catalog: &'a Catalog,
    place: &'a dyn Fn(&IdedExpr) -> Range<usize>,
    /// Loop variables in scope, with the size of their values.
    bound: Vec<(String, Node)>,
    /// Per node being estimated, the cost and local cost of its children so far.
    children: Vec<(Estimate, Estimate)>,
    result: RuleEstimate,
}

impl Walk<'_> {
    fn node(&mut self, expr: &mut IdedExpr) -> Node {
        self.children.push((Estimate::default(), Estimate::default()));
        let mut node = self.own(expr);
        let (children_cost, children_local) = self.children.pop().unwrap_or_default();
        if !matches!(expr.expr, Expr::Comprehension(_)) {
            node.local = Estimate {
                steps: node.cost.steps.saturating_sub(children_cost.steps).saturating_add(children_local.steps),
                bytes: node.cost.bytes.saturating_sub(children_cost.bytes).saturating_add(children_local.bytes),
            };
        }
        if let Some((cost, local)) = self.children.last_mut() {
            *cost = cost.plus(node.cost);
            *local = local.plus(node.local);
        }
        if node.cost.exceeds(self.limits) && self.result.culprit.is_none() {
            self.result.culprit = Some(((self.place)(expr), node.cost));
        }
        node
    }

    /// The estimate of `expr` from its children's (see [`Walk::node`]).
    fn own(&mut self, expr: &mut IdedExpr) -> Node {
        match &mut expr.expr {
            Expr::Literal(literal) => Node { cost: step(), size: literal_size(literal), ..Node::default() },
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                let operand = self.node(&mut select.operand);
                let data = self.field_size(&select.operand, &select.field);
                Node { cost: operand.cost.plus(data.cost), ..data }
            }
            Expr::List(list) => {
                let mut node = Node { cost: step(), ..Node::default() };
                for element in &mut list.elements {
                    let element = self.node(element);
                    node = self.contain(node, element);
                }
                node.cost.bytes = node.cost.bytes.saturating_add(node.size.bytes);
                node
            }
            Expr::Map(map) => {
                let mut node = Node { cost: step(), ..Node::default() };
                for entry in &mut map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(entry) = &mut entry.expr {
                        let key = self.node(&mut entry.key);
                        let value = self.node(&mut entry.value);
                        node = self.contain(node, key);
                        node.cost = node.cost.plus(value.cost);
                        node.size.bytes = node.size.bytes.saturating_add(value.size.bytes);
                    }
                }
                node.cost.bytes = node.cost.bytes.saturating_add(node.size.bytes);
                node
            }
            Expr::Struct(_) | Expr::Unspecified => Node { cost: step(), ..Node::default() },
            Expr::Call(call) => self.call(call),
            Expr::Comprehension(comprehension) => {
                let range = self.node(&mut comprehension.iter_range);
                let init = self.node(&mut comprehension.accu_init);
                let element = Node {
                    size: range.elem,
                    elem: range.elem,
                    from_data: range.from_data,
                    read: range.read,
                    ..Node::default()
                };
                self.bound.push((comprehension.iter_var.clone(), element));
                self.bound.push((comprehension.accu_var.clone(), init));
                let condition = self.node(&mut comprehension.loop_cond);
                let step_node = self.node(&mut comprehension.loop_step);
                let result = self.node(&mut comprehension.result);
                self.bound.truncate(self.bound.len() - 2);
                let per_item = condition.cost.plus(step_node.cost).plus(step());
                let loops = per_item.times(range.size.items);
                let local = range.local.plus(init.local).plus(result.local).plus(step());
                let cost = range.cost.plus(init.cost).plus(loops).plus(result.cost).plus(step());
                let appends = matches!(&comprehension.accu_init.expr, Expr::List(list) if list.elements.is_empty());
                let size = if appends {
                    Size {
                        items: range.size.items,
                        bytes: range.size.items.saturating_mul(step_node.size.bytes.saturating_add(ITEM_BYTES)),
                    }
                } else {
                    step_node.size
                };
                // At run time each iteration charges its own work (the loops inside charge
                // theirs when they run), and the range's bytes are charged when the loop starts.
                let per_item_here = condition.local.plus(step_node.local).plus(step());
                wrap_range(&mut comprehension.iter_range, per_item_here.bytes);
                tick_steps(comprehension, per_item_here.steps);
                let from_data = range.from_data || step_node.from_data;
                if range.from_data {
                    self.result.data_loops.push(((self.place)(expr), cost));
                }
                Node { cost, local, size, elem: step_node.elem, from_data, read: false }
            }
        }
    }

    fn contain(&self, mut container: Node, element: Node) -> Node {
        container.cost = container.cost.plus(element.cost);
        container.size.items = container.size.items.saturating_add(1);
        container.size.bytes = container.size.bytes.saturating_add(element.size.bytes).saturating_add(ITEM_BYTES);
        container.from_data |= element.from_data;
        container.elem = larger(container.elem, element.size);
        container
    }

    fn ident(&self, name: &str) -> Node {
        if let Some((_, node)) = self.bound.iter().rev().find(|(bound, _)| bound == name) {
            return Node { cost: step(), ..*node };
        }
        match name {
            MEMBERS => Node {
                cost: step(),
                size: Size { items: self.limits.max_members, bytes: 0 },
                from_data: true,
                read: true,
                ..Node::default()
            },
            _ => self.data_read(),
        }
    }

    /// The size of `operand.field`: `r.members` is the household; any other
    /// field, and a metric's list (which comes from a registry), is bounded
    /// like a list field of the data.
    fn field_size(&self, operand: &IdedExpr, field: &str) -> Node {
        if field == MEMBERS && matches!(&operand.expr, Expr::Ident(name) if name == REGISTRANT) {
            return Node { cost: step(), ..self.ident(MEMBERS) };
        }
        if let Expr::Select(registry) = &operand.expr
            && (matches!(&registry.operand.expr, Expr::Ident(name) if name == DCI)
                || matches!(&registry.operand.expr, Expr::Select(dci) if dci.field == DCI))
            && let Some(metric) = self.catalog.field(&registry.field, field)
        {
            let size = match self.catalog.spec(metric).cel_type {
                MetricType::StringList => self.data_size(),
                _ => Size::default(),
            };
            return Node { cost: step(), size, from_data: size.items > 0, read: true, ..Node::default() };
        }
        self.data_read()
    }

    /// A value read from the data as it is. Reading it counts one step: its
    /// type is not known here. A list or object field is parsed on every
    /// read, and charged its size at run time.
    fn data_read(&self) -> Node {
        let size = self.data_size();
        Node { cost: step(), size, elem: size, from_data: true, read: true, ..Node::default() }
    }

    /// A value read from the data: iterating it counts as its bound; it was
    /// not built by the evaluation, and reading or comparing it counts as one
    /// step (its length is bounded by the request's size limits).
    fn data_size(&self) -> Size {
        Size { items: self.limits.max_list_items, bytes: 0 }
    }

    fn call(&mut self, call: &mut CallExpr) -> Node {
        let mut args: Vec<Node> = Vec::with_capacity(call.args.len() + 1);
        if let Some(target) = call.target.as_deref_mut() {
            args.push(self.node(target));
        }
        for arg in &mut call.args {
            args.push(self.node(arg));
        }
        let mut cost = args.iter().fold(step(), |cost, arg| cost.plus(arg.cost));
        let from_data = args.iter().any(|arg| arg.from_data);
        let largest = args.iter().filter(|arg| !arg.read).map(|arg| arg.size).fold(Size::default(), larger);
        let walk = |size: Size| size.bytes / BYTES_PER_STEP + size.items;
        let name = call.func_name.as_str();
        let size = match name {
            operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT => Size::default(),
            operators::CONDITIONAL => args.iter().skip(1).map(|a| a.size).fold(Size::default(), larger),
            operators::ADD => {
                let sum = args.iter().filter(|arg| !arg.read).fold(Size::default(), |a, b| Size {
                    items: a.items.saturating_add(b.size.items),
                    bytes: a.bytes.saturating_add(b.size.bytes),
                });
                cost.steps = cost.steps.saturating_add(walk(sum));
                cost.bytes = cost.bytes.saturating_add(sum.bytes);
                let elem = args.iter().map(|arg| arg.elem).fold(Size::default(), larger);
                return Node { cost, size: sum, elem, from_data, ..Node::default() };
            }
            "matches" => {
                // The interpreter compiles the pattern on every call.
                cost.steps = cost.steps.saturating_add(REGEX_STEPS).saturating_add(walk(largest));
                Size::default()
            }
            operators::EQUALS
            | operators::NOT_EQUALS
            | operators::IN
            | "contains"
            | "startsWith"
            | "endsWith"
            | "indexOf"
            | "lastIndexOf" => {
                cost.steps = cost.steps.saturating_add(walk(largest));
                Size::default()
            }
            "replace" => {
                // `s.replace(old, new)` grows only where `new` is longer than `old`: then at
                // worst every byte of `s` becomes `new`. A string from the data has no
                // enforced length, so a growing replace of one is refused (unbounded).
                let literal_len = |node: Option<&IdedExpr>| match node.map(|n| &n.expr) {
                    Some(Expr::Literal(LiteralValue::String(text))) => Some(text.inner().len() as u64),
                    _ => None,
                };
                let (old, new) = (literal_len(call.args.first()), literal_len(call.args.get(1)));
                let target = args.first().copied().unwrap_or_default();
                let grown = match (old, new) {
                    (Some(old), Some(new)) if old > 0 && new <= old => target.size.bytes,
                    _ if target.read || target.from_data => u64::MAX,
                    _ => target.size.bytes.saturating_mul(args.get(2).map_or(1, |n| n.size.bytes.max(1))),
                };
                cost.steps = cost.steps.saturating_add(grown / BYTES_PER_STEP);
                cost.bytes = cost.bytes.saturating_add(grown);
                Size { items: 0, bytes: grown }
            }
            "range" if matches!(call.target.as_deref(), Some(IdedExpr { expr: Expr::Ident(n), .. }) if n == "lists") => {
                let items = match call.args.first().map(|a| &a.expr) {
                    Some(Expr::Literal(LiteralValue::Int(n))) => u64::try_from(*n.inner()).unwrap_or(0),
                    _ => u64::MAX,
                };
                let size = Size { items, bytes: items.saturating_mul(ITEM_BYTES) };
                cost.steps = cost.steps.saturating_add(items);
                cost.bytes = cost.bytes.saturating_add(size.bytes);
                size
            }
            "split" | "join" | "flatten" | "sort" | "sortBy" | "distinct" | "reverse" | "slice" | "lowerAscii"
            | "upperAscii" | "trim" | "substring" | "format" | "quote" | "string" | "bytes" | "charAt" => {
                let size = Size { items: largest.items.max(largest.bytes), bytes: largest.bytes.saturating_mul(2) };
                cost.steps = cost.steps.saturating_add(walk(largest));
                cost.bytes = cost.bytes.saturating_add(size.bytes);
                size
            }
            BUDGET_FN => return args.first().copied().unwrap_or_default(),
            operators::INDEX | operators::OPT_INDEX => {
                let element = args.first().map(|list| list.elem).unwrap_or_default();
                return Node { cost, size: element, elem: element, from_data, ..Node::default() };
            }
            name if name.starts_with(['_', '!', '-']) || SCALAR_FUNCTIONS.contains(&name) => {
                // Operators and conversions read their arguments once and give a scalar.
                cost.steps = cost.steps.saturating_add(largest.items);
                Size::default()
            }
            _ => {
                // Any other function reads its arguments once; its value may be one of them
                // (`dyn(x)`, `orValue`, `math.greatest`), so it is as large as the largest.
                cost.steps = cost.steps.saturating_add(largest.items);
                let size = args.iter().map(|arg| arg.size).fold(Size::default(), larger);
                let elem = args.iter().map(|arg| arg.elem).fold(Size::default(), larger);
                return Node { cost, size, elem, from_data, ..Node::default() };
            }
        };
        Node { cost, size, from_data, ..Node::default() }
    }
}

fn larger(a: Size, b: Size) -> Size {
    Size { items: a.items.max(b.items), bytes: a.bytes.max(b.bytes) }
}

fn step() -> Estimate {
    Estimate { steps: 1, bytes: 0 }
}

fn literal_size(literal: &LiteralValue) -> Size {
    match literal {
        LiteralValue::String(s) => Size { items: 0, bytes: s.inner().len() as u64 },
        LiteralValue::Bytes(b) => Size { items: 0, bytes: b.inner().len() as u64 },
        _ => Size::default(),
    }
}

/// `range` → `@halted() ? [] : @budget(range, bytes)`, charging each item
/// `bytes_per_item` when the loop starts. Once an evaluation is stopped, a
/// loop that starts neither evaluates its range nor iterates.
fn wrap_range(range: &mut IdedExpr, bytes_per_item: u64) {
    let id = range.id;
    let original = std::mem::replace(range, IdedExpr { id, expr: Expr::Unspecified });
    let charged = call(id, BUDGET_FN, vec![original, int(id, bytes_per_item)]);
    let nothing = IdedExpr {
        id,
        expr: Expr::List(cel::common::ast::ListExpr { elements: Vec::new(), optional_indices: Vec::new() }),
    };
    *range = call(id, operators::CONDITIONAL, vec![call(id, HALTED_FN, Vec::new()), nothing, charged]);
}

/// Wraps the work of each iteration in `@tick(x, steps)`, which charges the
/// steps, checks the cancellation and gives `x` back. The loop keeps the
/// shape the interpreter recognises: `@result && @tick(p)` (all, exists),
/// `@result + [@tick(x)]` (map), `@tick(c) ? @result + [x] : @result` (filter).
fn tick_steps(comprehension: &mut cel::common::ast::ComprehensionExpr, steps: u64) {
    let accu = comprehension.accu_var.clone();
    let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(name) if *name == accu);
    let wrap = |target: &mut IdedExpr| {
        let id = target.id;
        let inner = std::mem::replace(target, IdedExpr { id, expr: Expr::Unspecified });
        *target = call(id, TICK_FN, vec![inner, int(id, steps)]);
    };
    let step = &mut comprehension.loop_step;
    if let Expr::Call(c) = &mut step.expr
        && c.target.is_none()
        && c.args.len() == 2
        && is_accu(&c.args[0])
    {
        match (c.func_name.as_str(), &mut c.args[1].expr) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, _) => return wrap(&mut c.args[1]),
            (operators::ADD, Expr::List(list)) if !list.elements.is_empty() => return wrap(&mut list.elements[0]),
            _ => {}
        }
    }
    if let Expr::Call(c) = &mut step.expr
        && c.func_name == operators::CONDITIONAL
        && c.args.len() == 3
        && is_accu(&c.args[2])
    {
        return wrap(&mut c.args[0]);
    }
    wrap(step);
}

fn call(id: u64, name: &str, args: Vec<IdedExpr>) -> IdedExpr {
    IdedExpr { id, expr: Expr::Call(CallExpr { func_name: name.to_owned(), target: None, args }) }
}

fn int(id: u64, n: u64) -> IdedExpr {
    IdedExpr { id, expr: Expr::Literal(LiteralValue::Int(i64::try_from(n).unwrap_or(i64::MAX).into())) }
}

/// A flag that stops evaluations: set it and every evaluation that checks it
/// ends with `cancelled`. Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    /// A flag not yet set.
    pub fn new() -> Self {
        Cancellation::default()
    }
    /// Stops every evaluation that watches this flag.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether [`Cancellation::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl PartialEq for Cancellation {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Cancellation {}

/// Why an evaluation was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// It would pass its budget of steps.
    Steps(u64),
    /// It would build more bytes than its budget.
    Bytes(u64),
    /// The costly evaluations of its batch have taken their budget of steps.
    BatchSteps(u64),
    /// Its request was cancelled.
    Cancelled,
}

/// Evaluations of fewer steps are not counted against their batch's budget
/// ([`Limits::max_batch_steps`](crate::Limits::max_batch_steps)): counting each
/// would make every evaluation write one counter shared by every core.
pub const BATCH_COUNTED_FROM: u64 = 1_000;

/// What the evaluation running on a thread has used, and may use.
#[derive(Clone, Copy, Debug, Default)]
struct Meter {
    /// The steps its decision had taken when it started.
    initial: u64,
    steps: u64,
    bytes: u64,
    max_steps: u64,
    max_bytes: u64,
    stop: Option<Stop>,
}

thread_local! {
    /// The meter of the evaluation running on this thread.
    static METER: Cell<Meter> = const {
        Cell::new(Meter { initial: 0, steps: 0, bytes: 0, max_steps: u64::MAX, max_bytes: u64::MAX, stop: None })
    };
}

/// Charges the evaluation running on this thread; an error once it is past
/// its budget (and for every charge after that).
fn charge(steps: u64, bytes: u64) -> Result<(), ExecutionError> {
    METER.with(|cell| {
        let mut meter = cell.get();
        if let Some(stop) = meter.stop {
            return Err(stop_error(stop));
        }
        meter.steps = meter.steps.saturating_add(steps);
        meter.bytes = meter.bytes.saturating_add(bytes);
        if meter.steps > meter.max_steps {
            meter.stop = Some(Stop::Steps(meter.max_steps));
        } else if meter.bytes > meter.max_bytes {
            meter.stop = Some(Stop::Bytes(meter.max_bytes));
        }
        cell.set(meter);
        meter.stop.map_or(Ok(()), |stop| Err(stop_error(stop)))
    })
}

/// Charges the reading of a field whose JSON text is `raw`: a list or an
/// object is parsed on every read, one step per [`BYTES_PER_STEP`] bytes and
/// its bytes built; a string costs one step per [`BYTES_PER_STEP`] bytes
/// (what is done with it walks it).
pub(crate) fn charge_read(raw: &str) -> Result<(), ExecutionError> {
    let steps = raw.len() as u64 / BYTES_PER_STEP;
    match raw.as_bytes().first() {
        Some(b'[' | b'{') => charge(steps, raw.len() as u64),
        Some(b'"') if steps > 0 => charge(steps, 0),
        _ => Ok(()),
    }
}

/// The budget of the evaluations of one batch, and their cancellation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Allowance {
    pub(crate) steps: u64,
    pub(crate) bytes: u64,
    pub(crate) cancel: Cancellation,
    /// The steps the batch's costly evaluations may take together, and have taken.
    pub(crate) batch_steps: u64,
    pub(crate) batch_spent: Arc<AtomicU64>,
}

impl Allowance {
    /// Starts metering an evaluation on this thread, under this allowance,
    /// counting the steps its decision has already taken (`spent`): bytes are
    /// per evaluation (they are freed after it), steps add up across the
    /// phases that evaluate one decision.
    ///
    /// Once the batch's costly evaluations have taken the batch's budget, an
    /// evaluation stops at its first charge (one that charges nothing, a plain
    /// comparison say, still ends).
    pub(crate) fn start(&self, spent: Option<&AtomicU64>) {
        let steps = spent.map_or(0, |spent| spent.load(Ordering::Relaxed));
        let stop = (self.batch_spent.load(Ordering::Relaxed) >= self.batch_steps)
            .then_some(Stop::BatchSteps(self.batch_steps));
        METER.with(|cell| {
            cell.set(Meter {
                initial: steps,
                steps,
                max_steps: self.steps,
                max_bytes: self.bytes,
                stop,
                ..Meter::default()
            });
        });
    }

    /// Stops the evaluation on this thread when its batch was cancelled.
    fn notice_cancellation(&self) {
        if self.cancel.is_cancelled() {
            METER.with(|cell| {
                let mut meter = cell.get();
                meter.stop = meter.stop.or(Some(Stop::Cancelled));
                cell.set(meter);
            });
        }
    }

    /// Records the steps taken so far on the decision's account, and those of
    /// a costly evaluation on the batch's.
    pub(crate) fn record(&self, spent: Option<&AtomicU64>) {
        let meter = METER.with(Cell::get);
        if let Some(spent) = spent {
            spent.store(meter.steps, Ordering::Relaxed);
        }
        let taken = meter.steps.saturating_sub(meter.initial);
        if taken >= BATCH_COUNTED_FROM {
            self.batch_spent.fetch_add(taken, Ordering::Relaxed);
        }
    }

    /// The [`BUDGET_FN`] implementation: charges `range`'s length times the
    /// bytes each item builds, and fails once the budget is spent or the batch cancelled.
    pub(crate) fn charge<'c, 'v>(
        &self,
        call: &mut FunctionContext<'c, 'v>,
    ) -> Result<cel::common::value::CowVal<'c, 'v>, ExecutionError> {
        self.notice_cancellation();
        let (Some(range), Some(per_byte)) = (call.args.first(), call.args.get(1)) else {
            return Err(call.error("takes a range and a cost"));
        };
        let items = range.as_sizer().map_or(0, |sizer| u64::try_from(*sizer.size().inner()).unwrap_or(0));
        charge(0, items.saturating_mul(number(per_byte)))?;
        Ok(call.args.swap_remove(0))
    }

    /// The [`TICK_FN`] implementation: charges one iteration's steps, checks
    /// the cancellation, and gives the iteration's value back.
    pub(crate) fn tick<'c, 'v>(
        &self,
        call: &mut FunctionContext<'c, 'v>,
    ) -> Result<cel::common::value::CowVal<'c, 'v>, ExecutionError> {
        self.notice_cancellation();
        let steps = call.args.get(1).map_or(1, number);
        charge(steps, 0)?;
        if call.args.is_empty() {
            return Err(call.error("takes a value and a cost"));
        }
        Ok(call.args.swap_remove(0))
    }
}

/// A cost written in the expression (a literal int).
fn number(value: &cel::common::value::CowVal<'_, '_>) -> u64 {
    value.downcast_ref::<cel::common::types::CelInt>().map_or(0, |n| u64::try_from(*n.inner()).unwrap_or(0))
}

/// The error a stopped evaluation ends with.
pub(crate) fn stop_error(stop: Stop) -> ExecutionError {
    ExecutionError::function_error(BUDGET_FN, stop.message())
}

/// Why the evaluation that ended with `error` was stopped, if it was.
pub(crate) fn as_stop(error: &ExecutionError) -> Option<Stop> {
    match error {
        ExecutionError::FunctionError { function, .. } if function == BUDGET_FN => stopped(),
        _ => None,
    }
}

impl Stop {
    /// The code of the decision's error.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Stop::Steps(_) | Stop::Bytes(_) | Stop::BatchSteps(_) => "budget_exceeded",
            Stop::Cancelled => "cancelled",
        }
    }

    /// What happened, for the decision's error message.
    pub(crate) fn message(self) -> String {
        match self {
            Stop::Steps(limit) => format!("the evaluation would take more than {limit} steps (max_steps)"),
            Stop::Bytes(limit) => format!("the evaluation would build more than {limit} bytes (max_bytes)"),
            Stop::BatchSteps(limit) => format!(
                "the costly evaluations of this batch have taken more than {limit} steps together (max_batch_steps)"
            ),
            Stop::Cancelled => "the evaluation was cancelled".to_owned(),
        }
    }
}

/// Why the evaluation metered on this thread was stopped, if it was.
pub(crate) fn stopped() -> Option<Stop> {
    METER.with(|meter| meter.get().stop)
}
