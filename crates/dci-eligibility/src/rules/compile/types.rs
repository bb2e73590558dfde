//! Static types: the type of every sub-expression, from the catalog (each
//! metric's type), the literals and the functions' signatures. What would
//! fail or mislead at run time because two types do not go together is
//! refused here, with the fix in words (`type_mismatch`). A beneficiary's own
//! fields are of any type (`dyn`) unless the deployment's `[fields]` or sample
//! data give their types ([`FieldTypes`]); then a field no sample has is a
//! warning (`unknown_field`).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators};
use dci_metrics::{Catalog, MetricType};

use super::tree::{name_chain, subtree_span_in};
use crate::names::{DCI, MEMBERS, NAMESPACES, REGISTRANT};
use crate::rules::callable::TYPE_NAMES;
use crate::rules::diagnostic::{RuleDiagnostic, Severity, preview};
use crate::rules::field_types::{FieldType, FieldTypes, SUGGESTION_BUDGET};

/// A static type: what a sub-expression is known to be.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ty {
    Bool,
    Int,
    Uint,
    Double,
    /// A number, whole or not: a field whose samples hold both.
    Number,
    String,
    Bytes,
    Timestamp,
    Duration,
    Null,
    /// A date, or `null` (`dci.crvs.death_date`).
    TimestampOrNull,
    List(Box<Ty>),
    Map,
    /// The beneficiary (`r`) or a household member: a record whose fields are the data's.
    Person,
    Type,
    /// Any value: not known before the rule runs.
    Dyn,
}

impl Ty {
    /// The type in a programme officer's words.
    fn words(&self) -> &'static str {
        match self {
            Ty::Bool => "true or false",
            Ty::Int | Ty::Uint => "a whole number",
            Ty::Double => "a number with a fraction (double)",
            Ty::Number => "a number",
            Ty::String => "text",
            Ty::Bytes => "bytes",
            Ty::Timestamp => "a date",
            Ty::Duration => "a duration",
            Ty::Null => "null",
            Ty::TimestampOrNull => "a date, or null",
            Ty::List(_) => "a list",
            Ty::Map | Ty::Person => "a record of fields",
            Ty::Type => "a type",
            Ty::Dyn => "any value",
        }
    }

    /// A map or a person: something with fields.
    fn is_record(&self) -> bool {
        matches!(self, Ty::Map | Ty::Person)
    }

    /// What `size` counts: the characters of text, the items of a list, the entries of a record.
    fn has_size(&self) -> bool {
        matches!(self, Ty::String | Ty::Bytes | Ty::List(_) | Ty::Dyn) || self.is_record()
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double | Ty::Number)
    }

    fn of_field(field: FieldType) -> Ty {
        match field {
            FieldType::Bool => Ty::Bool,
            FieldType::Int => Ty::Int,
            FieldType::Double => Ty::Double,
            FieldType::Number => Ty::Number,
            // A date in beneficiary data is text: `age_years` reads it, `date(…)` makes it a date.
            FieldType::String | FieldType::Date => Ty::String,
            FieldType::List => Ty::List(Box::new(Ty::Dyn)),
            FieldType::Map => Ty::Map,
            FieldType::Any => Ty::Dyn,
        }
    }

    fn of_metric(metric: MetricType) -> Ty {
        match metric {
            MetricType::Bool => Ty::Bool,
            MetricType::Int => Ty::Int,
            MetricType::Double => Ty::Double,
            MetricType::String => Ty::String,
            MetricType::Timestamp => Ty::Timestamp,
            MetricType::TimestampOrNull => Ty::TimestampOrNull,
            MetricType::StringList => Ty::List(Box::new(Ty::String)),
        }
    }

    fn of_literal(literal: &LiteralValue) -> Ty {
        match literal {
            LiteralValue::Boolean(_) => Ty::Bool,
            LiteralValue::Bytes(_) => Ty::Bytes,
            LiteralValue::Double(_) => Ty::Double,
            LiteralValue::Int(_) => Ty::Int,
            LiteralValue::Null => Ty::Null,
            LiteralValue::String(_) => Ty::String,
            LiteralValue::UInt(_) => Ty::Uint,
        }
    }
}

/// Whether `==` between the two can be true: CEL compares numbers of any kind,
/// and anything else only with its own kind (otherwise it is silently false).
/// As CEL's checker does, `null` compares with dates, durations and records
/// (message types there), not with true/false, numbers, text or lists.
fn can_equal(a: &Ty, b: &Ty) -> bool {
    use Ty::*;
    match (a, b) {
        (Dyn, _) | (_, Dyn) => true,
        (x, y) if x.is_numeric() && y.is_numeric() => true,
        (Null, Timestamp | Duration | Map | Person) | (Timestamp | Duration | Map | Person, Null) => true,
        (x, y) if x.is_record() && y.is_record() => true,
        (TimestampOrNull, Timestamp | Null | TimestampOrNull) | (Timestamp | Null, TimestampOrNull) => true,
        (List(_), List(_)) => true,
        (x, y) => x == y,
    }
}

/// Whether `<` between the two has an answer (otherwise it fails at run time).
fn can_order(a: &Ty, b: &Ty) -> bool {
    use Ty::*;
    match (a, b) {
        (Dyn, _) | (_, Dyn) => true,
        (x, y) if x.is_numeric() && y.is_numeric() => true,
        // A date or null (`death_date`) is ordered only where a test has ruled null out.
        (x, y) => x == y && matches!(x, Bool | String | Bytes | Timestamp | Duration),
    }
}

/// The type of `a op b` for an arithmetic operator, when CEL has it.
fn arithmetic(op: &str, a: &Ty, b: &Ty) -> Option<Ty> {
    use Ty::*;
    let same_number = a == b && a.is_numeric();
    match (op, a, b) {
        (_, Dyn, _) | (_, _, Dyn) => Some(Dyn),
        // A number whose kind varies between beneficiaries: only the data can tell.
        (_, Number, other) | (_, other, Number) if other.is_numeric() => Some(Number),
        (operators::MODULO, Int | Uint, _) if a == b => Some(a.clone()),
        (operators::MODULO, ..) => None,
        (_, _, _) if same_number => Some(a.clone()),
        (operators::ADD, String, String) => Some(String),
        (operators::ADD, Bytes, Bytes) => Some(Bytes),
        (operators::ADD, List(x), List(y)) => Some(List(Box::new(if x == y { (**x).clone() } else { Dyn }))),
        (operators::ADD, Timestamp, Duration) | (operators::ADD, Duration, Timestamp) => Some(Timestamp),
        (operators::ADD | operators::SUBSTRACT, Duration, Duration) => Some(Duration),
        (operators::SUBSTRACT, Timestamp, Timestamp) => Some(Duration),
        (operators::SUBSTRACT, Timestamp, Duration) => Some(Timestamp),
        _ => None,
    }
}

/// The literal a quoted text stands for, when it reads as a value of `ty`
/// (`"false"` for a boolean, `"60"` for a number).
fn unquoted(literal: &LiteralValue, ty: &Ty) -> Option<String> {
    let LiteralValue::String(text) = literal else { return None };
    let text = text.inner().trim();
    let reads = match ty {
        Ty::Bool => matches!(text, "true" | "false"),
        Ty::Int | Ty::Uint => text.parse::<i64>().is_ok(),
        Ty::Double => text.parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    };
    reads.then(|| text.to_owned())
}

/// `X != null` (`true`) or `X == null` (`false`), for a name `X`, as written.
fn null_test(expr: &IdedExpr) -> Option<(String, bool)> {
    let Expr::Call(call) = &expr.expr else { return None };
    let not_null = match call.func_name.as_str() {
        operators::NOT_EQUALS => true,
        operators::EQUALS => false,
        _ => return None,
    };
    let named = match call.args.as_slice() {
        [name, IdedExpr { expr: Expr::Literal(LiteralValue::Null), .. }]
        | [IdedExpr { expr: Expr::Literal(LiteralValue::Null), .. }, name] => name_chain(name)?,
        _ => return None,
    };
    Some((named.join("."), not_null))
}

/// Infers types and reports what does not go together.
pub(super) struct TypeChecker<'a> {
    catalog: &'a Catalog,
    fields: Option<&'a FieldTypes>,
    source: &'a Arc<str>,
    spans: &'a HashMap<u64, Range<usize>>,
    /// Loop variables in scope, with their types.
    scope: Vec<(String, Ty)>,
    /// Names a test in scope has shown not to be null (`X != null && …`).
    not_null: Vec<String>,
    pub(super) errors: Vec<RuleDiagnostic>,
    pub(super) warnings: Vec<RuleDiagnostic>,
    /// What is left of [`SUGGESTION_BUDGET`] for this rule's field suggestions.
    suggestion_budget: usize,
}

impl<'a> TypeChecker<'a> {
    pub(super) fn new(
        catalog: &'a Catalog,
        fields: Option<&'a FieldTypes>,
        source: &'a Arc<str>,
        spans: &'a HashMap<u64, Range<usize>>,
    ) -> Self {
        let fields = fields.filter(|fields| !fields.is_empty());
        TypeChecker {
            catalog,
            fields,
            source,
            spans,
            scope: Vec::new(),
            not_null: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            suggestion_budget: SUGGESTION_BUDGET,
        }
    }

    /// Where `expr` is written, without the white space after it.
    fn span(&self, expr: &IdedExpr) -> Range<usize> {
        let span = subtree_span_in(expr, self.spans, self.source).unwrap_or(0..self.source.len());
        let written = self.source.get(span.clone()).unwrap_or("");
        span.start..span.start + written.trim_end().len()
    }

    fn written(&self, expr: &IdedExpr) -> String {
        let span = self.span(expr);
        preview(self.source.get(span).unwrap_or("").trim())
    }

    fn mismatch(&mut self, at: &IdedExpr, message: String, help: String) {
        let span = self.span(at);
        // One error per mistake: what encloses an operand already blamed is not blamed again.
        if self.errors.iter().any(|e| e.span.start < span.end && span.start < e.span.end) {
            return;
        }
        let diagnostic = RuleDiagnostic::new(Severity::Error, "type_mismatch", message, self.source, span);
        self.errors.push(diagnostic.with_help(help));
    }

    /// The whole rule: it must be true or false.
    pub(super) fn check_rule(&mut self, expr: &IdedExpr) {
        let ty = self.infer(expr);
        if !matches!(ty, Ty::Bool | Ty::Dyn) {
            let written = self.written(expr);
            let message = format!("the rule is {}, not true or false: `{written}`", ty.words());
            self.mismatch(expr, message, "a rule decides: compare the value, e.g. `… > 0` or `… == \"yes\"`".into());
        }
    }

    fn infer(&mut self, expr: &IdedExpr) -> Ty {
        match &expr.expr {
            Expr::Literal(literal) => Ty::of_literal(literal),
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) if select.test => {
                self.infer(&select.operand);
                Ty::Bool
            }
            Expr::Select(_) => self.select(expr),
            Expr::List(list) => {
                let items: Vec<Ty> = list.elements.iter().map(|item| self.infer(item)).collect();
                let first = items.first().cloned().unwrap_or(Ty::Dyn);
                Ty::List(Box::new(if items.iter().all(|t| *t == first) { first } else { Ty::Dyn }))
            }
            Expr::Map(_) | Expr::Struct(_) => {
                for child in super::tree::children(expr) {
                    self.infer(child);
                }
                Ty::Map
            }
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Call(call) => self.call(call),
            Expr::Unspecified => Ty::Dyn,
        }
    }

    fn ident(&self, name: &str) -> Ty {
        if let Some((_, ty)) = self.scope.iter().rev().find(|(bound, _)| bound == name) {
            return ty.clone();
        }
        match name {
            REGISTRANT => Ty::Person,
            DCI => Ty::Map,
            MEMBERS => Ty::List(Box::new(Ty::Person)),
            _ if TYPE_NAMES.contains(&name) => Ty::Type,
            _ => Ty::Dyn,
        }
    }

    /// `dci.<registry>.<metric>` (also `r.dci…` and `m.dci…`) is the metric's type; a
    /// field of a record is of any type.
    fn select(&mut self, expr: &IdedExpr) -> Ty {
        if let Some(chain) = name_chain(expr) {
            let bound = self.scope.iter().any(|(name, _)| name == chain[0]);
            let path = match (chain.first().copied(), chain.get(1).copied()) {
                (Some(DCI), _) if !bound => Some(&chain[1..]),
                (Some(REGISTRANT), Some(DCI)) if !bound => Some(&chain[2..]),
                (Some(_), Some(DCI)) if bound => Some(&chain[2..]),
                _ => None,
            };
            if let Some([registry, field]) = path
                && let Some(id) = self.catalog.field(registry, field)
            {
                return match Ty::of_metric(self.catalog.spec(id).cel_type) {
                    Ty::TimestampOrNull if self.not_null.contains(&chain.join(".")) => Ty::Timestamp,
                    ty => ty,
                };
            }
            let person = match self.scope.iter().rev().find(|(name, _)| name == chain[0]) {
                Some((_, ty)) => *ty == Ty::Person,
                None => chain[0] == REGISTRANT,
            };
            if let (true, [_, field]) = (person, chain.as_slice()) {
                return self.own_field(expr, field);
            }
        }
        let Expr::Select(select) = &expr.expr else { return Ty::Dyn };
        let operand = self.infer(&select.operand);
        if !(operand.is_record() || operand == Ty::Dyn) {
            let written = self.written(&select.operand);
            let message = format!("`{written}` is {}: it has no field `{}`", operand.words(), select.field);
            self.mismatch(
                expr,
                message,
                "only records (the beneficiary, a member, `dci.<registry>`) have fields".into(),
            );
        }
        Ty::Dyn
    }

    /// A beneficiary's or member's own field: its type when the fields are known, and a
    /// warning when it is not among them.
    fn own_field(&mut self, expr: &IdedExpr, field: &str) -> Ty {
        let Some(fields) = self.fields else { return Ty::Dyn };
        if let Some(ty) = fields.get(field) {
            return Ty::of_field(ty);
        }
        let span = self.span(expr);
        if self.warnings.iter().any(|w| w.span == span) {
            return Ty::Dyn;
        }
        let closest = fields.closest(field, &mut self.suggestion_budget);
        let date = fields.0.iter().find(|(_, ty)| **ty == FieldType::Date).map(|(name, _)| name);
        let help = match (field, date, closest.as_slice()) {
            ("age", Some(date), _) => {
                format!("for the age from the date of birth, write `age_years(r.{})`", preview(date))
            }
            (_, _, []) => "check the field's name against the data: a beneficiary without it is undetermined".into(),
            (_, _, near) => {
                let near: Vec<String> = near.iter().map(|name| format!("`{}`", preview(name))).collect();
                format!("did you mean {}?", near.join(" or "))
            }
        };
        let message = format!("no beneficiary in the data has a field `{field}`");
        let warning = RuleDiagnostic::new(Severity::Warning, "unknown_field", message, self.source, span);
        self.warnings.push(warning.with_help(help));
        Ty::Dyn
    }

    fn comprehension(&mut self, comprehension: &ComprehensionExpr) -> Ty {
        let range = self.infer(&comprehension.iter_range);
        let element = match &range {
            Ty::List(element) => (**element).clone(),
            Ty::Map | Ty::Person | Ty::Dyn => Ty::Dyn,
            other => {
                let written = self.written(&comprehension.iter_range);
                let message = format!("`{written}` is {}, not a list: there is nothing to loop over", other.words());
                let help = "loops (`exists`, `all`, `count`, …) go over a list, such as `members`";
                self.mismatch(&comprehension.iter_range, message, help.into());
                Ty::Dyn
            }
        };
        let accumulator = self.infer(&comprehension.accu_init);
        let depth = self.scope.len();
        self.scope.push((comprehension.iter_var.clone(), element));
        if let Some(second) = &comprehension.iter_var2 {
            self.scope.push((second.clone(), Ty::Dyn));
        }
        self.scope.push((comprehension.accu_var.clone(), accumulator));
        self.infer(&comprehension.loop_cond);
        self.infer(&comprehension.loop_step);
        let result = self.infer(&comprehension.result);
        self.scope.truncate(depth);
        result
    }

    fn call(&mut self, call: &CallExpr) -> Ty {
        let name = call.func_name.as_str();
        match name {
            operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT => self.logical(name, call),
            operators::CONDITIONAL => self.conditional(call),
            operators::EQUALS | operators::NOT_EQUALS => self.equality(call),
            operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS => {
                self.ordering(call)
            }
            operators::ADD | operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO => {
                self.arithmetic(name, call)
            }
            operators::NEGATE => self.negate(call),
            operators::IN => self.membership(call),
            operators::INDEX | operators::OPT_INDEX => self.index(call),
            _ if name.starts_with('@') || name.starts_with('_') => {
                self.infer_all(call);
                Ty::Dyn
            }
            _ => match &call.target {
                Some(target) if !matches!(&target.expr, Expr::Ident(n) if NAMESPACES.contains(&n.as_str())) => {
                    self.method(call, target)
                }
                _ => self.function(call),
            },
        }
    }

    fn infer_all(&mut self, call: &CallExpr) -> Vec<Ty> {
        if let Some(target) = &call.target {
            self.infer(target);
        }
        call.args.iter().map(|arg| self.infer(arg)).collect()
    }

    /// Each operand of `and`, `or`, `not` must be true or false.
    fn logical(&mut self, name: &str, call: &CallExpr) -> Ty {
        // A loop's test (`all`, `exists`) is joined to the loop's result, a generated name.
        let in_loop = matches!(call.args.first().map(|a| &a.expr), Some(Expr::Ident(n)) if n.starts_with('@'));
        let joined = match name {
            _ if in_loop => "the test of a loop (`all`, `exists`, …) is a condition",
            operators::LOGICAL_AND => "each side of `and` is a condition",
            operators::LOGICAL_OR => "each side of `or` is a condition",
            _ => "`not` takes a condition",
        };
        // `X != null && …` and `X == null || …`: on the right, X is not null.
        let narrowed = call.args.first().and_then(null_test).filter(|(_, not_null)| match name {
            operators::LOGICAL_AND => *not_null,
            operators::LOGICAL_OR => !*not_null,
            _ => false,
        });
        let depth = self.not_null.len();
        for (index, arg) in call.args.iter().enumerate() {
            if index == 1
                && let Some((named, _)) = &narrowed
            {
                self.not_null.push(named.clone());
            }
            let ty = self.infer(arg);
            if !matches!(ty, Ty::Bool | Ty::Dyn) {
                let written = self.written(arg);
                let message = format!("`{written}` is {}, not true or false: {joined}", ty.words());
                self.mismatch(arg, message, format!("compare it, e.g. `{written} > 0` or `{written} == …`"));
            }
        }
        self.not_null.truncate(depth);
        Ty::Bool
    }

    fn conditional(&mut self, call: &CallExpr) -> Ty {
        // `X != null ? a : b`: in `a`, X is not null; `X == null ? a : b`: in `b`.
        let narrowed = call.args.first().and_then(null_test);
        let depth = self.not_null.len();
        let mut types = Vec::with_capacity(3);
        for (index, arg) in call.args.iter().enumerate() {
            if let Some((named, not_null)) = &narrowed
                && ((index == 1 && *not_null) || (index == 2 && !*not_null))
            {
                self.not_null.push(named.clone());
            }
            types.push(self.infer(arg));
            self.not_null.truncate(depth);
        }
        if let (Some(condition), Some(arg)) = (types.first(), call.args.first())
            && !matches!(condition, Ty::Bool | Ty::Dyn)
        {
            let written = self.written(arg);
            let message = format!("`{written}` is {}, not true or false: `?` needs a condition", condition.words());
            self.mismatch(arg, message, "write `condition ? value_if_true : value_if_false`".into());
        }
        match (types.get(1), types.get(2)) {
            (Some(a), Some(b)) if a == b => a.clone(),
            _ => Ty::Dyn,
        }
    }

    /// The operands of a comparison that do not go together: the error is put
    /// under the literal side, whose fix is clearest.
    fn compared(&mut self, call: &CallExpr, a: &Ty, b: &Ty, equality: bool) {
        let (Some(left), Some(right)) = (call.args.first(), call.args.get(1)) else { return };
        let dated = |ty: &Ty| matches!(ty, Ty::Timestamp | Ty::TimestampOrNull);
        let (known, known_ty, blamed, blamed_ty) = match &left.expr {
            // Text against a date: the text is what to change (`date(…)`).
            _ if *a == Ty::String && dated(b) => (right, b, left, a),
            _ if *b == Ty::String && dated(a) => (left, a, right, b),
            Expr::Literal(_) if !matches!(right.expr, Expr::Literal(_)) => (right, b, left, a),
            _ => (left, a, right, b),
        };
        let (known_text, blamed_text) = (self.written(known), self.written(blamed));
        let fix = match &blamed.expr {
            Expr::Literal(literal) => {
                unquoted(literal, known_ty).map(|value| format!("compare it with `{value}`, not `{blamed_text}`"))
            }
            _ => None,
        };
        let help = match (fix, blamed_ty) {
            (Some(fix), _) => format!("`{known_text}` is {}: {fix}", known_ty.words()),
            (None, Ty::String) if matches!(known_ty, Ty::Timestamp | Ty::TimestampOrNull) => {
                format!("to read text holding a date as a date, write `date({blamed_text})`")
            }
            (None, Ty::Null) => format!(
                "`{known_text}` is never null: a value the registry does not give makes the decision undetermined"
            ),
            (None, _) => format!("compare `{known_text}` with {}", known_ty.words()),
        };
        let verb = if equality { "is never equal to" } else { "cannot be compared with" };
        let message = format!("`{known_text}` ({}) {verb} `{blamed_text}` ({})", known_ty.words(), blamed_ty.words());
        self.mismatch(blamed, message, help);
    }

    fn equality(&mut self, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        if let [a, b] = types.as_slice()
            && !can_equal(a, b)
        {
            self.compared(call, a, b, true);
        }
        Ty::Bool
    }

    fn ordering(&mut self, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        let ([a, b], [left, right]) = (types.as_slice(), call.args.as_slice()) else { return Ty::Bool };
        if can_order(a, b) {
            return Ty::Bool;
        }
        let dated = |ty: &Ty| matches!(ty, Ty::Timestamp | Ty::TimestampOrNull);
        let maybe_null = if *a == Ty::TimestampOrNull { left } else { right };
        if dated(a) && dated(b) {
            let written = self.written(maybe_null);
            let message = format!("`{written}` is null while there is no such date, and then it has no order");
            let help = format!("test it first: `{written} != null && …`");
            self.mismatch(maybe_null, message, help);
        } else {
            self.compared(call, a, b, false);
        }
        Ty::Bool
    }

    fn arithmetic(&mut self, op: &str, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        let ([a, b], [left, right]) = (types.as_slice(), call.args.as_slice()) else { return Ty::Dyn };
        if let Some(ty) = arithmetic(op, a, b) {
            return ty;
        }
        let symbol = op.trim_matches('_');
        let (left_text, right_text) = (self.written(left), self.written(right));
        let message = format!(
            "`{left_text} {symbol} {right_text}`: `{left_text}` is {} and `{right_text}` is {}",
            a.words(),
            b.words()
        );
        let help = if a.is_numeric() && b.is_numeric() {
            let (whole, whole_text) =
                if matches!(a, Ty::Int | Ty::Uint) { (left, &left_text) } else { (right, &right_text) };
            match &whole.expr {
                Expr::Literal(LiteralValue::Int(_)) => {
                    format!("CEL does not mix whole numbers and fractions: write `{whole_text}.0`")
                }
                _ => format!("CEL does not mix whole numbers and fractions: write `double({whole_text})`"),
            }
        } else {
            format!("`{symbol}` takes two numbers of one kind, two texts, two lists, or dates and durations")
        };
        self.mismatch(right, message, help);
        Ty::Dyn
    }

    fn negate(&mut self, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        match (types.first(), call.args.first()) {
            (Some(ty), _) if ty.is_numeric() || matches!(ty, Ty::Duration | Ty::Dyn) => ty.clone(),
            (Some(ty), Some(arg)) => {
                let written = self.written(arg);
                let message = format!("`-{written}`: `{written}` is {}, not a number", ty.words());
                self.mismatch(arg, message, "only numbers and durations can be negated".into());
                Ty::Dyn
            }
            _ => Ty::Dyn,
        }
    }

    /// `x in list`: the list must be a list (or a map), of things `x` can equal.
    fn membership(&mut self, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        let ([element, container], [item, list]) = (types.as_slice(), call.args.as_slice()) else { return Ty::Bool };
        match container {
            Ty::List(inner) if !can_equal(element, inner) => {
                let (item_text, list_text) = (self.written(item), self.written(list));
                let message = format!(
                    "`{item_text}` is {}, and `{list_text}` holds {}: it is never in it",
                    element.words(),
                    inner.words()
                );
                let fix = match &item.expr {
                    Expr::Literal(literal) => unquoted(literal, inner).map(|value| format!("write `{value}`")),
                    _ => None,
                };
                self.mismatch(item, message, fix.unwrap_or_else(|| format!("look for {} in it", inner.words())));
            }
            Ty::List(_) | Ty::Map | Ty::Person | Ty::Dyn => {}
            other => {
                let list_text = self.written(list);
                let message = format!("`{list_text}` is {}, not a list: `in` looks in a list", other.words());
                let help = match other {
                    Ty::String => "to look for text inside text, write `text.contains(\"part\")`".to_owned(),
                    _ => "write `x in [a, b, c]`".to_owned(),
                };
                self.mismatch(list, message, help);
            }
        }
        Ty::Bool
    }

    fn index(&mut self, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        match types.first() {
            Some(Ty::List(element)) => (**element).clone(),
            _ => Ty::Dyn,
        }
    }

    /// `x.f(…)`: the method must be one of `x`'s kind.
    fn method(&mut self, call: &CallExpr, target: &IdedExpr) -> Ty {
        let receiver = self.infer(target);
        for arg in &call.args {
            self.infer(arg);
        }
        let name = call.func_name.as_str();
        let text = |t: &Ty| matches!(t, Ty::String);
        let list = |t: &Ty| matches!(t, Ty::List(_));
        let (accepts, result, of): (fn(&Ty) -> bool, Ty, &str) = match name {
            "contains" | "startsWith" | "endsWith" | "matches" => (text, Ty::Bool, "text"),
            "size" => (Ty::has_size, Ty::Int, "text and lists"),
            "getFullYear" | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate" | "getDayOfWeek" | "getHours"
            | "getMinutes" | "getSeconds" | "getMilliseconds" => {
                (|t| matches!(t, Ty::Timestamp | Ty::Duration), Ty::Int, "dates")
            }
            "charAt" | "lowerAscii" | "upperAscii" | "replace" | "substring" | "trim" => (text, Ty::String, "text"),
            "indexOf" | "lastIndexOf" => (text, Ty::Int, "text"),
            "split" => (text, Ty::List(Box::new(Ty::String)), "text"),
            "join" => (list, Ty::String, "lists"),
            "reverse" | "distinct" | "flatten" | "slice" | "sort" => (list, Ty::Dyn, "lists"),
            _ => return Ty::Dyn,
        };
        if receiver == Ty::Dyn || accepts(&receiver) {
            return if result == Ty::Dyn { receiver } else { result };
        }
        let written = self.written(target);
        let message = format!("`{written}.{name}(…)`: `{written}` is {}, which has no `{name}`", receiver.words());
        let help = match (&receiver, name) {
            (Ty::List(_), "contains") => format!("to ask whether a list holds a value, write `value in {written}`"),
            (Ty::TimestampOrNull, _) => {
                format!("it is null while there is no such date: test it first: `{written} != null && …`")
            }
            _ => format!("`{name}` is a method of {of}"),
        };
        self.mismatch(target, message, help);
        result
    }

    /// A global function: its arguments' kinds, and what it gives.
    fn function(&mut self, call: &CallExpr) -> Ty {
        let types = self.infer_all(call);
        let name = call.func_name.as_str();
        let first = types.first().cloned().unwrap_or(Ty::Dyn);
        let argument = call.args.first();
        match name {
            "size" => {
                if let Some(arg) = argument
                    && !first.has_size()
                {
                    let written = self.written(arg);
                    let message = format!("`size({written})`: `{written}` is {}, which has no size", first.words());
                    self.mismatch(arg, message, "`size` counts the items of a list or the characters of text".into());
                }
                Ty::Int
            }
            "age_years" | "age_months" | "age_days" => {
                if let Some(arg) = argument
                    && !matches!(first, Ty::Timestamp | Ty::TimestampOrNull | Ty::String | Ty::Dyn)
                {
                    let written = self.written(arg);
                    let message = format!("`{name}({written})`: `{written}` is {}, not a date", first.words());
                    self.mismatch(arg, message, format!("give a date, e.g. `{name}(r.birthdate)`"));
                }
                Ty::Int
            }
            "today" | "days_ago" | "months_ago" | "years_ago" | "date" | "timestamp" => Ty::Timestamp,
            "between" | "matches" | "bool" => Ty::Bool,
            "int" => Ty::Int,
            "uint" => Ty::Uint,
            "double" => Ty::Double,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "duration" => Ty::Duration,
            "type" => Ty::Type,
            _ => Ty::Dyn,
        }
    }
}
