//! What a rule may cost: the units, a static worst-case estimate checked
//! when the rule is compiled, and the rewrites that meter it when it runs.
//!
//! **Units.** A *step* is the evaluation of one node of the expression: a
//! literal, a name, a field, an operator, a function call. Functions that
//! walk a string or a list cost one more step per [`BYTES_PER_STEP`] bytes or
//! per item; `sort` costs `n log₂ n` comparisons, `distinct` `n (n − 1) / 2`,
//! `matches` the haystack's bytes times its pattern's automaton states over
//! [`REGEX_STATE_BYTES_PER_STEP`]. *Bytes* count what an evaluation builds
//! or parses: strings, lists and maps ([`ITEM_BYTES`] per item, plus their
//! contents). The table of every function is in the README ("What each
//! function costs").
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
//! not check them, a registry list has none, a string field has no length),
//! so the compiler rewrites the expression to charge the actual sizes:
//! every comprehension's range becomes `@halted() ? [] : @budget(range,
//! bytes per item)` ([`HALTED_FN`], [`BUDGET_FN`]), each iteration is
//! charged before its work (`@tick(steps) ? work : ...`, [`TICK_FN`]), and a
//! call whose operands come from the data goes through the metered library
//! ([`crate::engine::metered`]). Reading a field charges its size
//! ([`crate::engine::meter::charge_read`]). Past the budget, the evaluation's
//! decision is `error` (`budget_exceeded`) whatever the expression returns,
//! and every later charge of that evaluation fails at once.

use std::ops::Range;

use cel::common::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, ListExpr, LiteralValue, operators};

use dci_metrics::{Catalog, MetricType};

use crate::names::NAMESPACES;
use crate::names::Work;
use crate::names::{
    ADD_FN, BUILT_FN, COPY_FN, EQ_FN, GE_FN, GT_FN, IN_FN, INDEX_OF_FN, JOIN_FN, LAST_INDEX_OF_FN, LE_FN, LT_FN,
    MATCHES_FN, NE_FN, REGEX_STATE_BYTES_PER_STEP, REPLACE_FN, SPLIT_FN, WALK_FN,
};
use crate::names::{BUDGET_FN, BYTES_PER_STEP, HALTED_FN, ITEM_BYTES, TICK_FN};
use crate::names::{DCI, Limits, MEMBERS, REGISTRANT};

/// Functions whose value is a number, a bool, a timestamp or a duration
/// (a namespaced one by its full name).
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
    "math.sqrt",
    "math.isNaN",
    "math.isInf",
    "math.isFinite",
    "elig.sum",
    "elig.avg",
];

/// Functions whose double result may be NaN.
const NAN_FUNCTIONS: &[&str] = &[
    "double",
    "math.sqrt",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.trunc",
    "math.abs",
    "math.sign",
    "math.greatest",
    "math.least",
    "elig.sum",
    "elig.avg",
    "elig.min",
    "elig.max",
];

/// Steps a `matches` call counts when its pattern is not written in the
/// rule (compiling it is charged when it runs).
const REGEX_STEPS: u64 = 1_000;

/// The most patterns a rule may write for `matches`: each is compiled when
/// the rule is.
pub(crate) const MAX_PATTERNS: usize = 16;

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
    /// The value is small whatever the data: a number, a bool, null, a
    /// timestamp or duration, a person.
    small: bool,
    /// Evaluating the node charges the value's size: a field read from a person.
    charged: bool,
    /// A person (`r`, or a member in a loop over `members`).
    person: bool,
    /// A double computed by the rule, which may be NaN.
    may_nan: bool,
}

impl Node {
    /// Its size is known only at run time.
    fn large(&self) -> bool {
        !self.small && self.from_data
    }
    /// Its size is known only at run time, and nothing charges walking it.
    fn unpaid(&self) -> bool {
        self.large() && !self.charged
    }
}

/// A pattern written in the rule that cannot be compiled.
#[derive(Clone, Debug)]
pub(crate) struct BadPattern {
    pub(crate) span: Range<usize>,
    pub(crate) why: String,
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
    /// Patterns of `matches` that do not compile.
    pub(crate) bad_patterns: Vec<BadPattern>,
    /// Patterns written in the rule.
    patterns: usize,
}

/// Estimates `expr` and rewrites it to be metered (see the module's
/// documentation). `place` gives a sub-expression's place in the rule's text.
pub(crate) fn estimate(
    expr: &mut IdedExpr,
    limits: &Limits,
    catalog: &Catalog,
    place: &dyn Fn(&IdedExpr) -> Range<usize>,
) -> RuleEstimate {
    let mut walk = Walk {
        limits,
        catalog,
        place,
        bound: Vec::new(),
        accumulators: Vec::new(),
        children: Vec::new(),
        result: RuleEstimate::default(),
    };
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
    /// Accumulators of the comprehensions in scope.
    accumulators: Vec<String>,
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
        if matches!(expr.expr, Expr::Comprehension(_)) {
            let id = expr.id;
            let place = (self.place)(expr);
            let Expr::Comprehension(comprehension) = &mut expr.expr else { return Node::default() };
            let (node, over_data) = self.comprehension(comprehension, id);
            if over_data {
                self.result.data_loops.push((place, node.cost));
            }
            return node;
        }
        match &mut expr.expr {
            Expr::Literal(literal) => {
                let size = literal_size(literal);
                let small = !matches!(literal, LiteralValue::String(_) | LiteralValue::Bytes(_));
                Node { cost: step(), size, small, ..Node::default() }
            }
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                let operand = self.node(&mut select.operand);
                if select.test {
                    return Node { cost: operand.cost.plus(step()), small: true, ..Node::default() };
                }
                let data = self.field_size(&select.operand, &operand, &select.field);
                Node { cost: operand.cost.plus(data.cost), ..data }
            }
            Expr::List(list) => {
                let mut node = Node { cost: step(), ..Node::default() };
                for element in &mut list.elements {
                    let element = self.copied(element);
                    node = self.contain(node, element);
                }
                node.cost.bytes = node.cost.bytes.saturating_add(node.size.bytes);
                node
            }
            Expr::Map(map) => {
                let mut node = Node { cost: step(), ..Node::default() };
                for entry in &mut map.entries {
                    if let EntryExpr::MapEntry(entry) = &mut entry.expr {
                        let key = self.copied(&mut entry.key);
                        let value = self.copied(&mut entry.value);
                        node = self.contain(node, key);
                        node.cost = node.cost.plus(value.cost);
                        node.size.bytes = node.size.bytes.saturating_add(value.size.bytes);
                        node.from_data |= value.from_data;
                    }
                }
                node.cost.bytes = node.cost.bytes.saturating_add(node.size.bytes);
                node
            }
            Expr::Struct(_) | Expr::Unspecified => Node { cost: step(), ..Node::default() },
            Expr::Call(call) => {
                let (node, built) = self.call(call);
                if built {
                    wrap(expr, BUILT_FN, Vec::new());
                }
                node
            }
            Expr::Comprehension(_) => Node::default(),
        }
    }

    /// An element of a list or map literal: copied into it, so a value of
    /// the data's size is charged as it is copied (`@copy(x)`).
    fn copied(&mut self, element: &mut IdedExpr) -> Node {
        let node = self.node(element);
        if node.large() {
            wrap(element, COPY_FN, Vec::new());
        }
        node
    }

    /// The estimate of a comprehension, and whether it loops over data.
    fn comprehension(&mut self, comprehension: &mut ComprehensionExpr, id: u64) -> (Node, bool) {
        let range = self.node(&mut comprehension.iter_range);
        let init = self.node(&mut comprehension.accu_init);
        let element = Node {
            size: range.elem,
            elem: range.elem,
            from_data: range.from_data,
            read: range.read,
            person: range.person,
            small: range.person,
            may_nan: range.may_nan,
            ..Node::default()
        };
        self.bound.push((comprehension.iter_var.clone(), element));
        self.bound.push((comprehension.accu_var.clone(), init));
        self.accumulators.push(comprehension.accu_var.clone());
        let condition = self.node(&mut comprehension.loop_cond);
        let step_node = self.node(&mut comprehension.loop_step);
        let result = self.node(&mut comprehension.result);
        self.accumulators.pop();
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
        // At run time each iteration charges its own work before doing it (the loops inside
        // charge theirs when they run), and the range's bytes are charged when the loop starts.
        let per_item_here = condition.local.plus(step_node.local).plus(step());
        wrap_range(&mut comprehension.iter_range, per_item_here.bytes);
        tick_steps(comprehension, per_item_here.steps, id);
        let from_data = range.from_data || step_node.from_data;
        let small = !appends && step_node.small;
        let node = Node {
            cost,
            local,
            size,
            elem: step_node.elem,
            from_data,
            small,
            may_nan: step_node.may_nan,
            ..Node::default()
        };
        (node, range.from_data)
    }

    fn contain(&self, mut container: Node, element: Node) -> Node {
        container.cost = container.cost.plus(element.cost);
        container.size.items = container.size.items.saturating_add(1);
        container.size.bytes = container.size.bytes.saturating_add(element.size.bytes).saturating_add(ITEM_BYTES);
        container.from_data |= element.from_data;
        container.may_nan |= element.may_nan;
        container.elem = larger(container.elem, element.size);
        container
    }

    fn ident(&self, name: &str) -> Node {
        if let Some((_, node)) = self.bound.iter().rev().find(|(bound, _)| bound == name) {
            return Node { cost: step(), charged: false, ..*node };
        }
        match name {
            MEMBERS => Node {
                cost: step(),
                size: Size { items: self.limits.max_members, bytes: 0 },
                from_data: true,
                read: true,
                person: true,
                ..Node::default()
            },
            REGISTRANT => Node { cost: step(), small: true, person: true, ..Node::default() },
            DCI => Node { cost: step(), small: true, ..Node::default() },
            // `r.<field>` written as one name (the local screen's direct reads).
            _ => Node { charged: true, ..self.data_read() },
        }
    }

    /// The size of `operand.field`: `r.members` is the household; a
    /// person's field is read from the data (and charged as it is read);
    /// a metric's list comes from a registry, bounded like a list field of
    /// the data; a field of any other value is part of that value.
    fn field_size(&self, operand: &IdedExpr, operand_node: &Node, field: &str) -> Node {
        if field == MEMBERS && matches!(&operand.expr, Expr::Ident(name) if name == REGISTRANT) {
            return Node { cost: step(), ..self.ident(MEMBERS) };
        }
        if field == DCI && operand_node.person {
            return Node { cost: step(), small: true, ..Node::default() };
        }
        if let Expr::Select(registry) = &operand.expr
            && (matches!(&registry.operand.expr, Expr::Ident(name) if name == DCI)
                || matches!(&registry.operand.expr, Expr::Select(dci) if dci.field == DCI))
            && let Some(metric) = self.catalog.field(&registry.field, field)
        {
            let list = self.catalog.spec(metric).cel_type == MetricType::StringList;
            let size = if list { self.data_size() } else { Size::default() };
            return Node { cost: step(), size, from_data: list, read: true, small: !list, ..Node::default() };
        }
        let registry_handle = match &operand.expr {
            Expr::Ident(name) => name == DCI,
            Expr::Select(select) => select.field == DCI,
            _ => false,
        };
        if registry_handle {
            return Node { cost: step(), small: true, ..Node::default() };
        }
        Node { charged: operand_node.person, ..self.data_read() }
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
    /// step (its length is charged at run time).
    fn data_size(&self) -> Size {
        Size { items: self.limits.max_list_items, bytes: 0 }
    }

    /// The name a call is known by: `f`, or `namespace.f` for a namespaced
    /// function (`math.greatest(...)`, `lists.range(n)`).
    fn qualified_name(&self, call: &CallExpr) -> (String, bool) {
        match call.target.as_deref() {
            Some(IdedExpr { expr: Expr::Ident(namespace), .. })
                if NAMESPACES.contains(&namespace.as_str()) && !self.bound.iter().any(|(b, _)| b == namespace) =>
            {
                (format!("{namespace}.{}", call.func_name), true)
            }
            _ => (call.func_name.clone(), false),
        }
    }

    /// The estimate of a call, and whether its result must be charged once built (`@built`).
    fn call(&mut self, call: &mut CallExpr) -> (Node, bool) {
        let mut site = self.site(call);
        if let Some(estimated) = self.value_operator(call, &site) {
            return estimated;
        }
        if self.test(call, &mut site) {
            let Site { cost, from_data, .. } = site;
            return (Node { cost, from_data, small: true, ..Node::default() }, false);
        }
        if let Some(estimated) = self.builder(call, &mut site) {
            return estimated;
        }
        self.other_function(call, site)
    }

    /// A call's operands estimated, and what the families of calls share.
    fn site(&mut self, call: &mut CallExpr) -> Site {
        let (name, namespaced) = self.qualified_name(call);
        let mut args: Vec<Node> = Vec::with_capacity(call.args.len() + 1);
        if let Some(target) = call.target.as_deref_mut()
            && !namespaced
        {
            args.push(self.node(target));
        }
        for arg in &mut call.args {
            args.push(self.node(arg));
        }
        let cost = args.iter().fold(step(), |cost, arg| cost.plus(arg.cost));
        let from_data = args.iter().any(|arg| arg.from_data);
        let largest = args.iter().filter(|arg| !arg.read).map(|arg| arg.size).fold(Size::default(), larger);
        let target = args.first().copied().unwrap_or_default();
        let accumulated = call.target.is_none()
            && matches!(call.args.first().map(|a| &a.expr), Some(Expr::Ident(n)) if self.accumulators.contains(n));
        Site { name, namespaced, args, cost, from_data, largest, target, accumulated }
    }

    /// Operators whose value is computed from their operands' (logic,
    /// choice, arithmetic, indexing), and the budget wrapper.
    fn value_operator(&self, call: &mut CallExpr, site: &Site) -> Option<(Node, bool)> {
        let Site { args, cost, from_data, target, .. } = site;
        let (mut cost, from_data) = (*cost, *from_data);
        let node = match site.name.as_str() {
            operators::CONDITIONAL => {
                let (then, otherwise) =
                    (args.get(1).copied().unwrap_or_default(), args.get(2).copied().unwrap_or_default());
                Node {
                    cost,
                    size: larger(then.size, otherwise.size),
                    elem: larger(then.elem, otherwise.elem),
                    from_data,
                    small: then.small && otherwise.small,
                    may_nan: then.may_nan || otherwise.may_nan,
                    ..Node::default()
                }
            }
            operators::ADD => {
                let sum = args.iter().filter(|arg| !arg.read).fold(Size::default(), |a, b| Size {
                    items: a.items.saturating_add(b.size.items),
                    bytes: a.bytes.saturating_add(b.size.bytes),
                });
                cost.steps = cost.steps.saturating_add(walk(sum));
                cost.bytes = cost.bytes.saturating_add(sum.bytes);
                let elem = args.iter().map(|arg| arg.elem).fold(Size::default(), larger);
                // Metered where an operand's size is known only at run time (a sum of a string and
                // a number is refused there without copying the string into an error).
                if !site.accumulated && args.iter().any(Node::large) {
                    rename(call, ADD_FN, false);
                }
                let small = args.iter().any(|arg| arg.small);
                let may_nan = small || args.iter().any(|arg| arg.may_nan);
                Node { cost, size: sum, elem, from_data, small, may_nan, ..Node::default() }
            }
            operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO | operators::NEGATE => {
                Node { cost, from_data, small: true, may_nan: true, ..Node::default() }
            }
            BUDGET_FN => args.first().copied().unwrap_or_default(),
            operators::INDEX | operators::OPT_INDEX | operators::OPT_SELECT => {
                // A person's field (`r['x']`, `r.?x`) is read from the data, and charged as it is
                // read; anything else gives one of its elements (inside an optional, maybe).
                if target.person {
                    return Some((Node { cost: cost.plus(step()), charged: true, ..self.data_read() }, false));
                }
                let element = target.elem;
                Node { cost, size: element, elem: element, from_data, may_nan: target.may_nan, ..Node::default() }
            }
            _ => return None,
        };
        Some((node, false))
    }

    /// Calls that answer a question about their operands (logic, equality,
    /// order, membership, search, patterns): a scalar, the operands walked
    /// once. Whether `site` was one (its cost then added).
    fn test(&mut self, call: &mut CallExpr, site: &mut Site) -> bool {
        let (name, args, largest) = (site.name.as_str(), &site.args, site.largest);
        let steps = match name {
            operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT => 0,
            operators::EQUALS | operators::NOT_EQUALS => {
                if args.iter().all(Node::unpaid) {
                    rename(call, if name == operators::EQUALS { EQ_FN } else { NE_FN }, false);
                }
                walk(largest)
            }
            operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS => {
                if args.iter().any(Node::large) || args.iter().any(|arg| arg.may_nan) {
                    let metered = match name {
                        operators::LESS => LT_FN,
                        operators::LESS_EQUALS => LE_FN,
                        operators::GREATER => GT_FN,
                        _ => GE_FN,
                    };
                    rename(call, metered, false);
                }
                walk(largest)
            }
            operators::IN => {
                if args.get(1).is_some_and(Node::unpaid) {
                    rename(call, IN_FN, false);
                }
                walk(largest)
            }
            "contains" | "startsWith" | "endsWith" => {
                self.walk_operands(call, args, Work::Linear, site.namespaced);
                walk(largest)
            }
            "matches" => {
                let steps = self.pattern_steps(call, largest);
                if call.target.is_none() {
                    // `matches(s, p)` as `s.matches(p)` is rewritten: `@matches(p, s)`.
                    call.args.reverse();
                }
                rename(call, MATCHES_FN, true);
                steps
            }
            "indexOf" | "lastIndexOf" => {
                // Always the linear search: CEL's walks every window of the string.
                rename(call, if name == "indexOf" { INDEX_OF_FN } else { LAST_INDEX_OF_FN }, true);
                walk(largest)
            }
            _ => return false,
        };
        site.cost.steps = site.cost.steps.saturating_add(steps);
        true
    }

    /// Calls that build a string or a list from their operands.
    fn builder(&mut self, call: &mut CallExpr, site: &mut Site) -> Option<(Node, bool)> {
        let Site { ref name, ref args, mut cost, from_data, largest, target, namespaced, .. } = *site;
        let (size, elem, built) = match name.as_str() {
            "replace" => {
                let grown = self.replaced_size(call, &target);
                cost.steps = cost.steps.saturating_add(grown / BYTES_PER_STEP);
                if args.iter().any(Node::large) {
                    rename(call, REPLACE_FN, true);
                }
                // A string as large as the data made it: what is built from it is metered too.
                (Size { items: 0, bytes: grown }, Size::default(), false)
            }
            "split" | "join" => {
                cost.steps = cost.steps.saturating_add(walk(largest));
                if args.iter().any(Node::large) {
                    rename(call, if name == "split" { SPLIT_FN } else { JOIN_FN }, true);
                }
                (
                    Size { items: largest.items.max(largest.bytes), bytes: largest.bytes.saturating_mul(2) },
                    Size::default(),
                    false,
                )
            }
            "lists.range" => {
                let items = range_items(call);
                cost.steps = cost.steps.saturating_add(items);
                (Size { items, bytes: items.saturating_mul(ITEM_BYTES) }, Size::default(), false)
            }
            "sort" | "@sortByAssociatedKeys" | "distinct" => {
                let n = target.size.items;
                let per = 1 + target.elem.bytes / BYTES_PER_STEP;
                let comparisons = if name == "distinct" {
                    n.saturating_mul(n.saturating_sub(1)) / 2
                } else {
                    n.saturating_mul(u64::from(n.max(1).ilog2() + 1))
                };
                cost.steps = cost.steps.saturating_add(walk(largest)).saturating_add(comparisons.saturating_mul(per));
                let kind = if name == "distinct" { Work::Pairs } else { Work::Sort };
                let built = self.walk_operands(call, args, kind, namespaced);
                (Size { items: target.size.items, bytes: target.size.bytes.saturating_mul(2) }, target.elem, built)
            }
            "flatten" | "reverse" | "slice" | "lowerAscii" | "upperAscii" | "trim" | "substring" | "format"
            | "strings.quote" | "string" | "bytes" | "charAt" => {
                cost.steps = cost.steps.saturating_add(walk(largest));
                let built = self.walk_operands(call, args, Work::Linear, namespaced);
                (
                    Size { items: largest.items.max(largest.bytes), bytes: largest.bytes.saturating_mul(2) },
                    Size::default(),
                    built,
                )
            }
            _ => return None,
        };
        cost.bytes = cost.bytes.saturating_add(size.bytes);
        Some((Node { cost, size, elem, from_data, ..Node::default() }, built))
    }

    /// Any other function: operators and conversions give a scalar; the
    /// rest may give one of their operands (`dyn(x)`, `orValue`,
    /// `math.greatest`), so their value is as large as the largest.
    fn other_function(&mut self, call: &mut CallExpr, site: Site) -> (Node, bool) {
        let Site { name, namespaced, args, mut cost, from_data, largest, .. } = site;
        cost.steps = cost.steps.saturating_add(walk(largest));
        self.walk_operands(call, &args, Work::Linear, namespaced);
        let scalar =
            name.starts_with(['_', '!', '-']) || name.starts_with('@') || SCALAR_FUNCTIONS.contains(&name.as_str());
        if scalar {
            let may_nan = NAN_FUNCTIONS.contains(&name.as_str());
            return (Node { cost, from_data, small: true, may_nan, ..Node::default() }, false);
        }
        let size = args.iter().map(|arg| arg.size).fold(Size::default(), larger);
        let elem = args.iter().map(|arg| arg.elem).fold(Size::default(), larger);
        let small = !args.is_empty() && args.iter().all(|arg| arg.small);
        let may_nan = NAN_FUNCTIONS.contains(&name.as_str()) || args.iter().any(|arg| arg.may_nan);
        (Node { cost, size, elem, from_data, small, may_nan, ..Node::default() }, false)
    }

    /// Wraps the operands of a call that keeps CEL's implementation in
    /// `@walk(x, work)` where walking them is not charged otherwise (for a
    /// sort or `distinct`, the target always: its comparisons are). Whether
    /// the call builds a value of the data's size, to be charged (`@built`).
    fn walk_operands(&self, call: &mut CallExpr, args: &[Node], kind: Work, namespaced: bool) -> bool {
        let mut operands: Vec<&mut IdedExpr> = Vec::new();
        if let Some(target) = call.target.as_deref_mut()
            && !namespaced
        {
            operands.push(target);
        }
        operands.extend(call.args.iter_mut());
        for (index, (operand, node)) in operands.into_iter().zip(args).enumerate() {
            let superlinear = kind != Work::Linear && index == 0;
            if (superlinear && node.large()) || node.unpaid() {
                let id = operand.id;
                wrap(operand, WALK_FN, vec![work(id, if superlinear { kind } else { Work::Linear })]);
            }
        }
        args.iter().any(Node::large)
    }

    /// Steps of a `matches` call: a pattern written in the rule is compiled
    /// now (one that does not compile, or one past [`MAX_PATTERNS`] in a
    /// rule, is a diagnostic), its states known.
    fn pattern_steps(&mut self, call: &CallExpr, haystack: Size) -> u64 {
        let pattern = call.args.last();
        let Some(IdedExpr { expr: Expr::Literal(LiteralValue::String(text)), .. }) = pattern else {
            return REGEX_STEPS.saturating_add(haystack.bytes / BYTES_PER_STEP);
        };
        let span = pattern.map(|p| (self.place)(p)).unwrap_or_default();
        self.result.patterns += 1;
        if self.result.patterns > MAX_PATTERNS {
            let why = format!("a rule may match at most {MAX_PATTERNS} patterns written in it");
            self.result.bad_patterns.push(BadPattern { span, why });
            return 0;
        }
        match crate::rules::patterns::compiled(text.inner()).0 {
            Ok(compiled) => {
                let bytes = haystack.bytes.max(BYTES_PER_STEP);
                (text.inner().len() as u64 / BYTES_PER_STEP)
                    .saturating_add(compiled.compile_steps)
                    .saturating_add(bytes.saturating_mul(compiled.states as u64) / REGEX_STATE_BYTES_PER_STEP)
            }
            Err(why) => {
                self.result.bad_patterns.push(BadPattern { span, why });
                0
            }
        }
    }

    /// `s.replace(old, new)` grows only where `new` is longer than `old`: then at
    /// worst every byte of `s` becomes `new`. A string from the data has no
    /// length known here: its replace is metered when it runs (see [`crate::engine::metered`]).
    fn replaced_size(&self, call: &CallExpr, target: &Node) -> u64 {
        let literal_len = |node: Option<&IdedExpr>| match node.map(|n| &n.expr) {
            Some(Expr::Literal(LiteralValue::String(text))) => Some(text.inner().len() as u64),
            _ => None,
        };
        match (literal_len(call.args.first()), literal_len(call.args.get(1))) {
            (Some(old), Some(new)) if old > 0 && new <= old => target.size.bytes,
            _ if target.large() => target.size.bytes,
            _ => target.size.bytes.saturating_mul(1 + literal_len(call.args.get(1)).unwrap_or(target.size.bytes)),
        }
    }
}

/// A call being estimated: its qualified name, its operands' estimates, and
/// what the families of calls derive from them.
struct Site {
    name: String,
    /// A namespaced function (`math.least`): the "target" is the namespace.
    namespaced: bool,
    args: Vec<Node>,
    cost: Estimate,
    from_data: bool,
    /// The largest operand that is not a read (reads are charged as they are read).
    largest: Size,
    /// The first operand (the receiver of a method).
    target: Node,
    /// The first operand is a fold's accumulator (`@result + [x]`).
    accumulated: bool,
}

/// Steps to walk a value of `size` once.
fn walk(size: Size) -> u64 {
    size.bytes / BYTES_PER_STEP + size.items
}

/// The items `lists.range(n)` builds: `n` when written, else unbounded (and
/// the count is then metered when it runs, `@walk(n, count)`).
fn range_items(call: &mut CallExpr) -> u64 {
    let items = match call.args.first().map(|a| &a.expr) {
        Some(Expr::Literal(LiteralValue::Int(n))) => u64::try_from(*n.inner()).unwrap_or(0),
        _ => u64::MAX,
    };
    if let Some(count) = call.args.first_mut()
        && !matches!(count.expr, Expr::Literal(_))
    {
        wrap(count, WALK_FN, vec![work(count.id, Work::Count)]);
    }
    items
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

/// Renames a call to a function of the metered library. A method call
/// (`s.split(x)`) becomes a call of its arguments and its target, last, as
/// CEL evaluates them (`@split(x, s)`), unless `member` is false (operators
/// have no target).
fn rename(call: &mut CallExpr, metered: &str, member: bool) {
    call.func_name = metered.to_owned();
    if member && let Some(target) = call.target.take() {
        call.args.push(*target);
    }
}

/// `expr` → `function(expr, extra...)`.
fn wrap(expr: &mut IdedExpr, function: &str, extra: Vec<IdedExpr>) {
    let id = expr.id;
    let inner = std::mem::replace(expr, IdedExpr { id, expr: Expr::Unspecified });
    let mut args = vec![inner];
    args.extend(extra);
    *expr = call(id, function, args);
}

/// The [`Work`] argument of `@walk`.
fn work(id: u64, kind: Work) -> IdedExpr {
    int(id, kind as u64)
}

/// `range` → `@halted() ? [] : @budget(range, bytes)`, charging each item
/// `bytes_per_item` when the loop starts. Once an evaluation is stopped, a
/// loop that starts neither evaluates its range nor iterates.
fn wrap_range(range: &mut IdedExpr, bytes_per_item: u64) {
    let id = range.id;
    let original = std::mem::replace(range, IdedExpr { id, expr: Expr::Unspecified });
    let charged = call(id, BUDGET_FN, vec![original, int(id, bytes_per_item)]);
    let nothing = IdedExpr { id, expr: Expr::List(ListExpr { elements: Vec::new(), optional_indices: Vec::new() }) };
    *range = call(id, operators::CONDITIONAL, vec![call(id, HALTED_FN, Vec::new()), nothing, charged]);
}

/// Charges each iteration before its work: `work` becomes
/// `@tick(steps) ? work : <never>`, keeping the loop the shape the
/// interpreter recognises: `@result && work` (all, exists),
/// `@result + [work]` (map), `work ? @result + [x] : @result` (filter,
/// counting). A loop of the first shape goes on past an error in its work
/// (a later `false` may decide it), so it also stops once the evaluation
/// is stopped: `!@halted() && condition`.
fn tick_steps(comprehension: &mut ComprehensionExpr, steps: u64, id: u64) {
    let accu = comprehension.accu_var.clone();
    let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(name) if *name == accu);
    let charged = |work: &mut IdedExpr, otherwise: Expr| {
        let id = work.id;
        let inner = std::mem::replace(work, IdedExpr { id, expr: Expr::Unspecified });
        let tick = call(id, TICK_FN, vec![int(id, steps)]);
        *work = call(id, operators::CONDITIONAL, vec![tick, inner, IdedExpr { id, expr: otherwise }]);
    };
    let never = || Expr::Literal(LiteralValue::Boolean(false.into()));
    let step = &mut comprehension.loop_step;
    if let Expr::Call(c) = &mut step.expr
        && c.target.is_none()
        && c.args.len() == 2
        && is_accu(&c.args[0])
    {
        match (c.func_name.as_str(), &mut c.args[1].expr) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, _) => {
                charged(&mut c.args[1], never());
                let condition =
                    std::mem::replace(&mut comprehension.loop_cond, IdedExpr { id, expr: Expr::Unspecified });
                let going = call(id, operators::LOGICAL_NOT, vec![call(id, HALTED_FN, Vec::new())]);
                comprehension.loop_cond = call(id, operators::LOGICAL_AND, vec![going, condition]);
                return;
            }
            (operators::ADD, Expr::List(list)) if !list.elements.is_empty() => {
                return charged(&mut list.elements[0], Expr::Literal(LiteralValue::Null));
            }
            _ => {}
        }
    }
    if let Expr::Call(c) = &mut step.expr
        && c.func_name == operators::CONDITIONAL
        && c.args.len() == 3
        && is_accu(&c.args[2])
    {
        return charged(&mut c.args[0], never());
    }
    charged(step, Expr::Ident(accu.clone()));
}

fn call(id: u64, name: &str, args: Vec<IdedExpr>) -> IdedExpr {
    IdedExpr { id, expr: Expr::Call(CallExpr { func_name: name.to_owned(), target: None, args }) }
}

fn int(id: u64, n: u64) -> IdedExpr {
    IdedExpr { id, expr: Expr::Literal(LiteralValue::Int(i64::try_from(n).unwrap_or(i64::MAX).into())) }
}
