//! SBML → cartox model importer.
//!
//! Reads an SBML Level 2 or Level 3 *core* model and lowers it into the same typed
//! [`ModelSpec`] a model file gives (`docs/model-format.md`); `import-sbml` writes that spec as
//! TOML. The translation follows the SBML semantics of a deterministic simulation:
//!
//! * A **species** symbol means its concentration (amount / compartment size) unless
//!   `hasOnlySubstanceUnits="true"`, when it means its amount. A reaction rate (the value of the
//!   kinetic law) is in amount / time, so for a species changed by reactions
//!   `d[S]/dt = Σ stoichiometry · rate / size(compartment)` (no division for amount species).
//! * A species with `boundaryCondition` or `constant` is not changed by reactions. It becomes an
//!   **assignment** if an assignment rule sets it, a **state** if a rate rule drives it, and
//!   otherwise a **parameter**. A parameter (or non-boundary species) likewise becomes an
//!   assignment / state when a rule targets it. A species set by an assignment rule is also an
//!   output column, named by its id (`observe = true`), as libRoadRunner and COPASI report it.
//! * **Compartments** become parameters (their size), named by their id; a state when a rate
//!   rule drives the size, an assignment (an output column) when an assignment rule sets it.
//! * **Function definitions** are inlined; **local parameters** of a kinetic law are renamed
//!   `<reactionId>_<parameterId>`.
//! * **Initial assignments** give a state an `initial` expression; for a parameter the expression
//!   is evaluated here (it may use only constants and other parameters).
//! * **Events** whose trigger is time crossing a constant (`time >= T`, `time > T`, `time == T`
//!   or the mirrored forms, `T` an expression of parameters), without a delay (or with a zero
//!   delay), become `[[events]]` at time `T` setting states (species or rate-rule variables, in
//!   the units the translator gives them: concentration unless `hasOnlySubstanceUnits`). A trigger
//!   already true at t = 0 fires at t = 0 if `initialValue="false"` and never otherwise (L2:
//!   never). `persistent` and `useValuesFromTriggerTime` do not matter for such events.
//! * When any event is not of that kind, **every event** becomes a triggered `[[events]]`
//!   (`trigger`, `delay`, `priority`, `persistent`, `initial_value`, `values_at_trigger`), which
//!   the solver handles with SBML's event semantics; such events may set species, rate-rule
//!   variables and parameters.
//! * An **algebraic rule** determines the one variable nothing else determines (see
//!   `algebraic.rs`); it becomes an `[[algebraic]]` entry, solved for that variable when the
//!   model is compiled.
//! * A **fast reaction** is at equilibrium (see `fast.rs`): its species become conserved totals
//!   (states), assignments and one `[[algebraic]]` entry.
//! * **Variable compartment sizes** and **variable stoichiometries** (`variable.rs`): a species
//!   in a compartment whose size varies is kept as its amount; a stoichiometry a rule, an initial
//!   assignment or an event sets is a symbol of the reaction term.
//! * The `rateOf` csymbol becomes `rate_of(x)` and the `delay` csymbol `delay(x, tau)` of the
//!   expression language (evaluated by the engine, see `docs/model-format.md`); a **reaction id**
//!   used as a symbol means the reaction's rate: an assignment named by the id, equal to its
//!   kinetic law (`reaction_ids.rs`). The delay csymbol next to an initial assignment that may
//!   depend on time is refused (`history.rs`).
//! * Fast reactions beyond `fast.rs`, required L3 packages and MathML outside the
//!   supported subset are *not* dropped: every one is collected and reported together in one
//!   [`SbmlError`] (of kind [`SbmlErrorKind::Unsupported`], or [`SbmlErrorKind::Malformed`] when
//!   the document itself is broken).
//!
//! The importer's parts: XML reading (`xml.rs`), MathML (`mathml.rs`), printing and
//! evaluating expressions (`print.rs`, with the crate's [`crate::expr`]), units (`units.rs`),
//! rules and function definitions (`rules.rs`), symbols and their roles (`symbols.rs`),
//! reactions (`reactions.rs`), events (`events.rs`) and the spec it emits (`emit.rs`).
//! Expressions are printed fully parenthesised in the cartox expression language.

mod algebraic;
mod emit;
mod events;
mod fast;
mod history;
mod mathml;
mod print;
mod reaction_ids;
mod reactions;
mod rules;
mod symbols;
mod units;
mod variable;
mod xml;

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use roxmltree::{Document, Node};

pub use crate::error::{Problem, SbmlError, SbmlErrorKind};
use crate::model::ModelSpec;
use mathml::{Expr, Function};
use units::UnitDef;
use xml::child;

/// Words of the cartox expression language that cannot be used as names.
const RESERVED: &[&str] = crate::expr::RESERVED;

/// Import an SBML Level 2 or 3 core model as a model spec. `source_name` is the file name used
/// in error messages and in the generated description.
pub fn sbml_to_spec(xml: &str, source_name: &str) -> Result<ModelSpec, SbmlError> {
    let fail = |p: Problem| SbmlError::new(source_name, vec![p]);
    if xml::nesting_beyond_limit(xml).is_some() {
        return Err(fail(Problem::unsupported(format!(
            "XML elements nested more than {} levels deep",
            xml::MAX_XML_DEPTH
        ))));
    }
    let doc = Document::parse(xml)
        .map_err(|e| fail(Problem::malformed(format!("not well-formed XML ({e})"))))?;
    let root = doc.root_element();
    if root.tag_name().name() != "sbml" {
        return Err(fail(Problem::malformed(format!(
            "the root element is <{}>, not <sbml>",
            root.tag_name().name()
        ))));
    }
    let number = |a: &str| root.attribute(a).and_then(|v| v.parse().ok()).unwrap_or(0);
    let (level, version): (u32, u32) = (number("level"), number("version"));
    if level != 2 && level != 3 {
        return Err(fail(Problem::unsupported(format!(
            "SBML level {level} (only Levels 2 and 3 are supported)"
        ))));
    }
    let Some(model) = child(root, "model") else {
        return Err(fail(Problem::malformed("<sbml> has no <model> element")));
    };
    let mut tr = Translator::new(source_name, level, version, model);
    // L3 packages that change the meaning of the model are marked required="true".
    for a in root.attributes() {
        if a.name() == "required" && a.value() == "true" && a.namespace().is_some() {
            tr.unsupported(format!(
                "required SBML package {}",
                a.namespace().unwrap_or("")
            ));
        }
    }
    let spec = tr.translate();
    match spec {
        Some(spec) if tr.problems.is_empty() => Ok(spec),
        _ if tr.problems.is_empty() => Err(fail(Problem::unsupported("translation failed"))),
        _ => Err(SbmlError::new(source_name, tr.problems)),
    }
}

/// Import an SBML model and write its spec as the text of a cartox model file (TOML).
pub fn sbml_to_toml(xml: &str, source_name: &str) -> Result<String, SbmlError> {
    let spec = sbml_to_spec(xml, source_name)?;
    toml::to_string(&spec).map_err(|e| {
        SbmlError::new(
            source_name,
            vec![Problem::unsupported(format!("cannot write TOML: {e}"))],
        )
    })
}

/// What an SBML symbol becomes in the cartox model.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    Parameter,
    State,
    Assignment,
}

struct SpeciesInfo<'a, 'i> {
    node: Node<'a, 'i>,
    id: String,
    compartment: String,
    only_substance: bool,
}

/// A local parameter of a kinetic law, renamed `<reactionId>_<parameterId>`.
struct LocalParam {
    name: String,
    value: f64,
    unit: String,
    description: String,
}

/// The state of one import, filled section by section (each file adds its methods).
struct Translator<'a, 'i> {
    source: String,
    level: u32,
    version: u32,
    model: Node<'a, 'i>,
    problems: Vec<Problem>,
    /// Sentences added to the model description (what was assumed or left out).
    notes: Vec<String>,
    unit_defs: HashMap<String, UnitDef>,
    time_unit: String,
    funcs: HashMap<String, Function>,
    assignment_rules: Vec<(String, Expr)>,
    rate_rules: IndexMap<String, Expr>,
    /// Algebraic rules, in file order, with the variable each determines once matched.
    algebraic: Vec<algebraic::AlgebraicRule>,
    /// Fast reactions accepted for rapid equilibrium.
    fast: Vec<fast::FastPlan>,
    /// Variables of assignment rules.
    assigned: HashSet<String>,
    initial_assignments: IndexMap<String, Expr>,
    events: Vec<events::SbmlEvent>,
    /// SBML id -> cartox name (a reserved word gets a trailing `_`).
    names: HashMap<String, String>,
    taken: HashSet<String>,
    renames: Vec<String>,
    roles: HashMap<String, Role>,
    compartments: Vec<Node<'a, 'i>>,
    comp_size: HashMap<String, Option<f64>>,
    species: Vec<SpeciesInfo<'a, 'i>>,
    parameters: Vec<Node<'a, 'i>>,
    /// Values at t0 of everything that becomes a parameter.
    values: HashMap<String, f64>,
    /// Parameters whose initial assignment was evaluated (`name = expr (= value)`).
    evaluated_notes: Vec<String>,
    /// Signed reaction terms per species.
    terms: HashMap<String, Vec<String>>,
    local_params: Vec<LocalParam>,
    /// Compartments whose size varies (a rule or an event sets it), `variable.rs`.
    varying: HashSet<String>,
    /// Species kept as amounts (in a varying compartment): species id -> amount state name.
    amount_states: HashMap<String, String>,
    /// Reactions whose id is used as a symbol (its rate), with their printed kinetic laws.
    rate_symbols: Vec<(String, String)>,
}

impl<'a, 'i> Translator<'a, 'i> {
    fn new(source: &str, level: u32, version: u32, model: Node<'a, 'i>) -> Self {
        Translator {
            source: source.to_string(),
            level,
            version,
            model,
            problems: Vec::new(),
            notes: Vec::new(),
            unit_defs: HashMap::new(),
            time_unit: "day".into(),
            funcs: HashMap::new(),
            assignment_rules: Vec::new(),
            rate_rules: IndexMap::new(),
            algebraic: Vec::new(),
            fast: Vec::new(),
            assigned: HashSet::new(),
            initial_assignments: IndexMap::new(),
            events: Vec::new(),
            names: HashMap::new(),
            taken: HashSet::new(),
            renames: Vec::new(),
            roles: HashMap::new(),
            compartments: Vec::new(),
            comp_size: HashMap::new(),
            species: Vec::new(),
            parameters: Vec::new(),
            values: HashMap::new(),
            evaluated_notes: Vec::new(),
            terms: HashMap::new(),
            local_params: Vec::new(),
            varying: HashSet::new(),
            amount_states: HashMap::new(),
            rate_symbols: Vec::new(),
        }
    }

    fn malformed(&mut self, msg: impl Into<String>) {
        self.problems.push(Problem::malformed(msg));
    }

    fn unsupported(&mut self, msg: impl Into<String>) {
        self.problems.push(Problem::unsupported(msg));
    }

    /// Lowers `<model>` section by section; the spec is meaningful only without problems.
    fn translate(&mut self) -> Option<ModelSpec> {
        self.read_units();
        self.read_functions();
        self.read_rules();
        self.match_algebraic();
        self.plan_fast();
        self.read_events();
        self.declare_identifiers();
        self.assign_roles();
        self.declare_reaction_symbols();
        self.check_delay_history();
        self.initial_assignments_at_t0();
        self.evaluate_parameters();
        if self.compartment_sizes_at_t0() {
            // Species' initial values depend on the sizes at t0.
            self.evaluate_parameters();
        }
        self.stoichiometry_parameters();
        self.plan_variable_compartments();
        self.read_reactions();
        self.check_rule_symbols();
        self.check_algebraic_symbols();
        self.emit()
    }

    /// The `<math>` of `n`, parsed, with calls of function definitions inlined.
    fn math_of(&mut self, n: Node, ctx: &str) -> Option<Expr> {
        let Some(m) = child(n, "math") else {
            self.malformed(format!("{ctx} has no <math>"));
            return None;
        };
        let e = mathml::parse_math(m, ctx, &mut self.problems);
        Some(mathml::inline(&e, &self.funcs, 0, ctx, &mut self.problems))
    }

    /// Reports identifiers that are not a compartment, species, parameter or local parameter.
    fn check_symbols(&mut self, e: &Expr, ctx: &str) {
        let mut syms = Vec::new();
        e.symbols(&mut syms);
        for s in syms {
            if !self.roles.contains_key(&s) {
                self.malformed(format!(
                    "'{s}' in {ctx} is not a compartment, species or parameter \
                     (reaction ids as symbols are not supported)"
                ));
            }
        }
    }

    /// Ids of everything that becomes a parameter of the cartox model.
    fn param_names(&self) -> HashSet<String> {
        self.roles
            .iter()
            .filter(|(_, r)| **r == Role::Parameter)
            .map(|(id, _)| id.clone())
            .collect()
    }
}
