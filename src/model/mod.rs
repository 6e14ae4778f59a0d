//! Models: states, parameters, assignments, equations and observables, loaded from a TOML file and
//! compiled once into expression trees over one flat value vector.
//!
//! Value vector layout (the "slots" every compiled expression reads):
//! `[t, state_1..state_n, param_1..param_p, assignment_1..assignment_a]`.

pub mod file;
pub mod jacobian;
pub(crate) mod location;
mod preset;

use crate::expr::{self, Ast, Node, Program, ProgramBuilder};
use indexmap::IndexMap;
use location::Locator;
pub use location::ModelError;
use std::collections::HashMap;
use std::path::Path;
use toml::Spanned;

include!(concat!(env!("OUT_DIR"), "/bundled_models.rs"));

/// The unit of the model's own time axis (outputs are always in days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Day,
    Hour,
}

impl TimeUnit {
    /// Model time units per day.
    pub fn per_day(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Hour => 24.0,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Hour => "hour",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub description: String,
    pub source: String,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Variance of the log-normal inter-individual random effect, when declared.
    pub omega2: Option<f64>,
}

/// A correlation between the random effects (eta) of two parameters that have `omega2`
/// (`[[correlations]]`): `cov(eta_a, eta_b) = r * sqrt(omega2_a * omega2_b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// The two parameter indices, in file order (never equal).
    pub between: [usize; 2],
    /// In (-1, 1).
    pub r: f64,
    pub description: String,
    pub source: String,
}

/// Smallest Cholesky pivot (a conditional variance, the diagonal being 1) a correlation matrix may
/// have: below it the matrix is rejected as not positive definite (singular or nearly so).
pub const MIN_CORRELATION_PIVOT: f64 = 1e-10;

/// The parameters linked to `start` through `correlations` (its connected block of the OMEGA
/// matrix), sorted by index.
pub fn correlation_block(correlations: &[Correlation], start: usize) -> Vec<usize> {
    let mut block = vec![start];
    let mut k = 0;
    while k < block.len() {
        let p = block[k];
        for c in correlations {
            let other = match c.between {
                [a, b] if a == p => b,
                [a, b] if b == p => a,
                _ => continue,
            };
            if !block.contains(&other) {
                block.push(other);
            }
        }
        k += 1;
    }
    block.sort_unstable();
    block
}

/// The correlation matrix of `params` (a unit diagonal and the declared correlations between
/// them, 0 elsewhere) when it is positive definite: every Cholesky pivot above
/// [`MIN_CORRELATION_PIVOT`].
pub fn correlation_matrix(
    correlations: &[Correlation],
    params: &[usize],
) -> Option<nalgebra::DMatrix<f64>> {
    let n = params.len();
    let mut m = nalgebra::DMatrix::<f64>::identity(n, n);
    for c in correlations {
        let pos = |p: usize| params.iter().position(|&q| q == p);
        if let (Some(i), Some(j)) = (pos(c.between[0]), pos(c.between[1])) {
            m[(i, j)] = c.r;
            m[(j, i)] = c.r;
        }
    }
    let l = nalgebra::Cholesky::new(m.clone())?;
    let l = l.l();
    (0..n)
        .all(|i| l[(i, i)] * l[(i, i)] > MIN_CORRELATION_PIVOT)
        .then_some(m)
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub unit: String,
    pub description: String,
    /// Initial value: an expression over parameters only.
    pub initial: Node,
    pub initial_text: String,
}

#[derive(Debug, Clone)]
pub struct Derived {
    pub name: String,
    pub unit: String,
    pub description: String,
    pub expr: Node,
    pub text: String,
}

/// A quantity the summary reads: a state or an observable, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    State(usize),
    Observable(usize),
}

/// How infusions and tumor burden enter the model.
#[derive(Debug, Clone)]
pub struct RegimenHooks {
    pub dose_state: usize,
    /// State units per infused cell (expression of parameters).
    pub dose_factor: Node,
    pub tumor_state: Option<usize>,
    pub tumor_factor: Node,
    /// Default dose in cells, or per kg.
    pub dose: Option<f64>,
    pub dose_per_kg: Option<f64>,
    pub weight: Option<f64>,
    pub tumor_burden: Option<f64>,
    pub ld: Option<String>,
    pub source: String,
}

/// A named lymphodepletion regimen: new initial values for some states.
#[derive(Debug, Clone)]
pub struct Lymphodepletion {
    pub name: String,
    pub description: String,
    pub source: String,
    /// (state index, expression over parameters and pre-lymphodepletion initial states)
    pub changes: Vec<(usize, Node, String)>,
}

/// A time-scheduled event (`[[events]]`): at `time` (model time units, an expression of
/// parameters) each listed state gets a new value computed from the state just before the event.
#[derive(Debug, Clone)]
pub struct TimedEvent {
    pub name: String,
    pub description: String,
    pub source: String,
    /// Event time, model time units (expression of parameters).
    pub time: Node,
    pub time_text: String,
    /// (state index, new value: expression of t, states, parameters and assignments, evaluated
    /// just before the event, text)
    pub set: Vec<(usize, Node, String)>,
}

/// A compiled model, ready to simulate.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub title: String,
    pub description: String,
    pub time_unit: TimeUnit,
    pub references: Vec<file::Reference>,
    pub parameters: Vec<Parameter>,
    /// Correlations between the parameters' random effects (`[[correlations]]`), in file order.
    pub correlations: Vec<Correlation>,
    pub states: Vec<State>,
    /// In evaluation (dependency) order.
    pub assignments: Vec<Derived>,
    /// One right-hand side per state, in state order.
    pub equations: Vec<Node>,
    pub equation_texts: Vec<String>,
    pub observables: Vec<Derived>,
    /// Times (model units) where the right-hand side is discontinuous: expressions of parameters.
    pub breakpoints: Vec<Node>,
    pub regimen: Option<RegimenHooks>,
    pub lymphodepletion: Vec<Lymphodepletion>,
    pub summary_cart: Option<Quantity>,
    pub summary_tumor: Option<Quantity>,
    /// Modelled CRS/ICANS risk grading rules (`[toxicity]`), see `docs/toxicity.md`.
    pub toxicity: Option<crate::toxicity::Toxicity>,
    /// Rescue therapies triggered by the grades (`[[interventions]]`).
    pub interventions: Vec<crate::toxicity::Intervention>,
    /// Time-scheduled state changes (`[[events]]`), in file order.
    pub events: Vec<TimedEvent>,
    /// For a product preset: the base model's name.
    pub base: Option<String>,
    /// For a product preset: its `[validation]` table (published targets), see `cartox validate`.
    pub validation: Option<toml::Table>,
    /// File name used in messages.
    pub source: String,
    /// Slot of each assignment, parallel to `assignments`.
    assignment_slots: Vec<usize>,
    /// Straight-line code of the right-hand side: the assignments, then one slot per derivative.
    rhs_program: Program,
    deriv_slots: Vec<usize>,
    /// Per observable: the assignments it needs, then its value into `obs_slots[i]`.
    obs_programs: Vec<Program>,
    obs_slots: Vec<usize>,
    /// Constant slots of the programs, and the length of a value vector.
    consts: Vec<(usize, f64)>,
    slot_len: usize,
    /// The analytic Jacobian of the right-hand side (see [`Model::jacobian`]).
    jac: jacobian::Jacobian,
}

impl Model {
    /// Load a bundled model by name, or a model file by path (a name containing `/` or ending in
    /// `.toml`).
    pub fn resolve(name_or_path: &str) -> Result<Model, ModelError> {
        if let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == name_or_path) {
            return Model::from_toml(text, &format!("models/{name_or_path}.toml"));
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".xml") || name_or_path.ends_with(".sbml") {
            return Model::load_sbml(path);
        }
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") || path.exists() {
            return Model::load(path);
        }
        let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
        Err(ModelError::plain(
            name_or_path,
            format!(
                "unknown model `{name_or_path}` (bundled: {}; or give a path to a .toml or SBML .xml file)",
                names.join(", ")
            ),
        ))
    }

    /// The bundled default model.
    pub fn default_model() -> Model {
        Model::resolve(DEFAULT_MODEL).expect("the bundled default model compiles")
    }

    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModelError::plain(&label, format!("cannot read: {e}")))?;
        Model::from_toml(&text, &label)
    }

    /// Import an SBML file (Level 2 or 3 core) and compile it like a model file.
    pub fn load_sbml(path: &Path) -> Result<Model, ModelError> {
        let label = path.display().to_string();
        let xml = std::fs::read_to_string(path)
            .map_err(|e| ModelError::plain(&label, format!("cannot read: {e}")))?;
        let text = crate::sbml::sbml_to_toml(&xml, &label).map_err(|e| {
            ModelError::plain(
                &label,
                e.to_string()
                    .trim_start_matches(&format!("{label}: "))
                    .to_string(),
            )
        })?;
        Model::from_toml(&text, &format!("{label} (imported)"))
    }

    /// Parse and compile model-file text; `label` names the file in error messages.
    pub fn from_toml(text: &str, label: &str) -> Result<Model, ModelError> {
        if preset::is_preset(text) {
            return preset::load(text, label, 0);
        }
        let loc = Locator::new(label, text);
        let raw: file::ModelFile = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;
        compile(raw, &loc)
    }

    pub fn n_states(&self) -> usize {
        self.states.len()
    }

    /// Length of the value vector expressions read.
    pub fn n_slots(&self) -> usize {
        1 + self.states.len() + self.parameters.len() + self.assignments.len()
    }

    pub fn param_slot(&self, i: usize) -> usize {
        1 + self.states.len() + i
    }

    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.parameters.iter().position(|p| p.name == name)
    }

    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    pub fn observable_index(&self, name: &str) -> Option<usize> {
        self.observables.iter().position(|s| s.name == name)
    }

    pub fn ld_regimen(&self, name: &str) -> Option<&Lymphodepletion> {
        self.lymphodepletion.iter().find(|l| l.name == name)
    }

    /// A fresh value vector holding the given parameter values (time, states and assignments 0).
    pub fn slots_with_params(&self, params: &[f64]) -> Vec<f64> {
        let mut v = vec![0.0; self.slot_len.max(self.n_slots())];
        v[1 + self.states.len()..1 + self.states.len() + params.len()].copy_from_slice(params);
        for &(slot, c) in &self.consts {
            v[slot] = c;
        }
        v
    }

    /// Compile the right-hand side and the observables into straight-line programs.
    fn build_programs(&mut self) {
        let mut b = ProgramBuilder::new(self.n_slots());
        for (a, &slot) in self.assignments.iter().zip(&self.assignment_slots) {
            b.emit_into(&a.expr, slot);
        }
        let mut deriv_slots = Vec::with_capacity(self.equations.len());
        for eq in &self.equations {
            let d = b.reserve();
            b.emit_into(eq, d);
            deriv_slots.push(d);
        }
        let rhs = b.finish();
        let mut obs_programs = Vec::with_capacity(self.observables.len());
        let mut obs_slots = Vec::with_capacity(self.observables.len());
        for o in &self.observables {
            for k in self.assignments_needed_by(&o.expr) {
                b.emit_into(&self.assignments[k].expr, self.assignment_slots[k]);
            }
            let d = b.reserve();
            b.emit_into(&o.expr, d);
            obs_programs.push(b.finish());
            obs_slots.push(d);
        }
        self.rhs_program = rhs;
        self.deriv_slots = deriv_slots;
        self.obs_programs = obs_programs;
        self.obs_slots = obs_slots;
        let parts = jacobian::Parts {
            n_states: self.states.len(),
            assignments: self
                .assignment_slots
                .iter()
                .copied()
                .zip(self.assignments.iter().map(|a| &a.expr))
                .collect(),
            equations: &self.equations,
        };
        self.jac = jacobian::build(&parts, &mut b);
        self.slot_len = b.len();
        self.consts = b.consts;
    }

    /// Evaluate the assignments in dependency order (time and states already in `v`).
    #[inline]
    pub fn eval_assignments(&self, v: &mut [f64]) {
        for (a, &slot) in self.assignments.iter().zip(&self.assignment_slots) {
            v[slot] = a.expr.eval(v);
        }
    }

    /// The right-hand side: `v` holds parameters; time and states are written into it.
    #[inline]
    pub fn rhs(&self, v: &mut [f64], t: f64, y: &[f64], dy: &mut [f64]) {
        set_time_and_state(v, t, y);
        self.rhs_program.run(v);
        for (d, &slot) in dy.iter_mut().zip(&self.deriv_slots) {
            *d = v[slot];
        }
    }

    /// The analytic Jacobian of the right-hand side at (t, y), d f_i / d y_j, written row-major
    /// into `jac` (n x n, n = number of states; zeros outside [`jacobian_sparsity`]).
    /// `v` is the value vector as for [`rhs`](Self::rhs) (parameters set); time and states are
    /// written into it.
    pub fn jacobian(&self, v: &mut [f64], t: f64, y: &[f64], jac: &mut [f64]) {
        set_time_and_state(v, t, y);
        self.jac.fill(v, y.len(), jac);
    }

    /// The structurally non-zero entries (row i, column j) of [`jacobian`](Self::jacobian),
    /// row-major.
    pub fn jacobian_sparsity(&self) -> &[(usize, usize)] {
        self.jac.sparsity()
    }

    /// One observable at one time point (`v` prepared as for `rhs`); only the assignments it
    /// depends on are evaluated.
    #[inline]
    pub fn observe_one(&self, v: &mut [f64], t: f64, y: &[f64], i: usize) -> f64 {
        // An observable that is a state (the default model's `crs_drive = S`) is read directly.
        if let Node::Var(slot) = self.observables[i].expr {
            if (1..=y.len()).contains(&slot) {
                return y[slot - 1];
            }
        }
        set_time_and_state(v, t, y);
        self.obs_programs[i].run(v);
        v[self.obs_slots[i]]
    }

    /// The assignments (positions in evaluation order) an expression needs, directly or through
    /// other assignments, in evaluation order.
    fn assignments_needed_by(&self, expr: &Node) -> Vec<usize> {
        let mut need = vec![false; self.assignments.len()];
        let mut stack = Vec::new();
        expr.slots(&mut stack);
        while let Some(slot) = stack.pop() {
            if let Some(k) = self.assignment_slots.iter().position(|&s| s == slot) {
                if !need[k] {
                    need[k] = true;
                    self.assignments[k].expr.slots(&mut stack);
                }
            }
        }
        (0..need.len()).filter(|&k| need[k]).collect()
    }

    /// Observables at one time point (`v` prepared as for `rhs`).
    pub fn observe(&self, v: &mut [f64], t: f64, y: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.observe_one(v, t, y, i);
        }
    }
}

/// Write time and state into their slots of the value vector, element by element on purpose:
/// as a `memcpy` (which the compiler makes of a plain copy loop) the wide stores cannot be
/// forwarded to the programs' 8-byte loads, which then wait for them (measured on `rhs`: 7% more
/// time per call, 20% when each call's state depends on the previous result, as in an ODE
/// solver). A volatile write is never merged.
#[inline]
fn set_time_and_state(v: &mut [f64], t: f64, y: &[f64]) {
    v[0] = t;
    for (d, &s) in v[1..1 + y.len()].iter_mut().zip(y) {
        // SAFETY: `d` is a valid, aligned `&mut f64`.
        unsafe { std::ptr::write_volatile(d, s) };
    }
}

/// Name of the bundled default model.
pub const DEFAULT_MODEL: &str = "cartox";

/// What a name in an expression may refer to, by context.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Initial values, breakpoints, dose factors: parameters only.
    Parameters,
    /// Lymphodepletion changes: parameters and (pre-LD) initial states.
    Initial,
    /// Assignments, equations, observables: everything.
    Dynamic,
}

struct Names {
    slots: HashMap<String, (usize, Kind)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Time,
    State,
    Param,
    Assignment,
}

impl Names {
    fn resolver(&self, scope: Scope) -> impl Fn(&str) -> Option<usize> + '_ {
        move |n: &str| {
            let (slot, kind) = *self.slots.get(n)?;
            let ok = match scope {
                Scope::Parameters => kind == Kind::Param,
                Scope::Initial => matches!(kind, Kind::Param | Kind::State),
                Scope::Dynamic => true,
            };
            ok.then_some(slot)
        }
    }
}

fn compile(raw: file::ModelFile, loc: &Locator) -> Result<Model, ModelError> {
    let time_unit = match raw.model.time_unit.get_ref().as_str() {
        "day" | "days" | "d" => TimeUnit::Day,
        "hour" | "hours" | "h" => TimeUnit::Hour,
        other => {
            return Err(loc.at(
                &raw.model.time_unit,
                format!("model.time_unit: `{other}` is not `day` or `hour`"),
            ))
        }
    };

    // Every declared name, checked for syntax, reserved words and duplicates.
    let mut seen: HashMap<String, &'static str> = HashMap::new();
    let mut declare = |name: &Spanned<String>, what: &'static str| -> Result<(), ModelError> {
        let n = name.get_ref();
        if !expr::is_identifier(n) {
            return Err(loc.at(name, format!("{what} name `{n}` is not an identifier")));
        }
        if expr::RESERVED.contains(&n.as_str()) {
            return Err(loc.at(name, format!("{what} name `{n}` is reserved")));
        }
        if let Some(prev) = seen.insert(n.clone(), what) {
            return Err(loc.at(name, format!("duplicate name `{n}` (already a {prev})")));
        }
        Ok(())
    };
    for s in &raw.states {
        declare(&s.name, "state")?;
    }
    for p in &raw.parameters {
        declare(&p.name, "parameter")?;
    }
    for a in &raw.assignments {
        declare(&a.name, "assignment")?;
    }
    for o in &raw.observables {
        declare(&o.name, "observable")?;
    }
    if raw.states.is_empty() {
        return Err(ModelError::plain(&loc.file, "the model declares no states"));
    }

    let n = raw.states.len();
    let np = raw.parameters.len();
    let mut names = Names {
        slots: HashMap::new(),
    };
    names.slots.insert("t".into(), (0, Kind::Time));
    for (i, s) in raw.states.iter().enumerate() {
        names
            .slots
            .insert(s.name.get_ref().clone(), (1 + i, Kind::State));
    }
    for (i, p) in raw.parameters.iter().enumerate() {
        names
            .slots
            .insert(p.name.get_ref().clone(), (1 + n + i, Kind::Param));
    }
    for (i, a) in raw.assignments.iter().enumerate() {
        names
            .slots
            .insert(a.name.get_ref().clone(), (1 + n + np + i, Kind::Assignment));
    }

    // Parameters: finite values within their bounds.
    let mut parameters = Vec::with_capacity(np);
    for p in &raw.parameters {
        let name = p.name.get_ref();
        let value = *p.value.get_ref();
        if !value.is_finite() {
            return Err(loc.at(&p.value, format!("parameter `{name}`: value is not finite")));
        }
        let lower = p.lower.as_ref().map(|b| *b.get_ref());
        let upper = p.upper.as_ref().map(|b| *b.get_ref());
        if let (Some(l), Some(u)) = (lower, upper) {
            if l > u {
                return Err(loc.at(
                    &p.value,
                    format!("parameter `{name}`: lower bound {l} is above upper bound {u}"),
                ));
            }
        }
        if lower.is_some_and(|l| value < l) || upper.is_some_and(|u| value > u) {
            return Err(loc.at(
                &p.value,
                format!("parameter `{name}`: value {value} is outside its bounds"),
            ));
        }
        let omega2 = p.omega2.as_ref().map(|o| *o.get_ref());
        if let (Some(o), Some(span)) = (omega2, p.omega2.as_ref()) {
            if !(o.is_finite() && o >= 0.0) {
                return Err(loc.at(span, format!("parameter `{name}`: omega2 must be >= 0")));
            }
        }
        parameters.push(Parameter {
            name: name.clone(),
            value,
            unit: p.unit.clone(),
            description: p.description.clone(),
            source: p.source.clone(),
            lower,
            upper,
            omega2,
        });
    }

    // Correlations between random effects: two distinct parameters with omega2, each pair once,
    // r in (-1, 1), and a positive definite correlation matrix.
    let mut correlations: Vec<Correlation> = Vec::with_capacity(raw.correlations.len());
    for (i, c) in raw.correlations.iter().enumerate() {
        let key = format!("correlations[{}]", i + 1);
        let names = c.between.get_ref();
        if names.len() != 2 {
            return Err(loc.at(
                &c.between,
                format!(
                    "{key}.between: expected two parameter names, got {}",
                    names.len()
                ),
            ));
        }
        let mut between = [0usize; 2];
        for (k, n) in names.iter().enumerate() {
            let name = n.get_ref();
            let Some(j) = parameters.iter().position(|p| &p.name == name) else {
                return Err(loc.at(n, format!("{key}.between: `{name}` is not a parameter")));
            };
            if parameters[j].omega2.is_none() {
                return Err(loc.at(
                    n,
                    format!(
                        "{key}.between: parameter `{name}` has no `omega2` (only random effects can be correlated)"
                    ),
                ));
            }
            between[k] = j;
        }
        let [a, b] = between;
        let (na, nb) = (&parameters[a].name, &parameters[b].name);
        if a == b {
            return Err(loc.at(
                &names[1],
                format!("{key}.between: `{na}` is paired with itself"),
            ));
        }
        if let Some(prev) = correlations
            .iter()
            .position(|o| o.between == [a, b] || o.between == [b, a])
        {
            return Err(loc.at(
                &c.between,
                format!(
                    "{key}.between: `{na}` and `{nb}` are already correlated by correlations[{}]",
                    prev + 1
                ),
            ));
        }
        let r = *c.r.get_ref();
        if !(r.is_finite() && r > -1.0 && r < 1.0) {
            return Err(loc.at(
                &c.r,
                format!("{key}.r: must be a finite number strictly between -1 and 1, got {r}"),
            ));
        }
        correlations.push(Correlation {
            between,
            r,
            description: c.description.clone(),
            source: c.source.clone(),
        });
    }
    // Each connected block of correlated parameters must have a positive definite correlation
    // matrix; the error points at the block's first entry.
    let mut checked: Vec<usize> = Vec::new();
    for (i, c) in correlations.iter().enumerate() {
        if checked.contains(&c.between[0]) {
            continue;
        }
        let block = correlation_block(&correlations, c.between[0]);
        checked.extend(&block);
        if correlation_matrix(&correlations, &block).is_none() {
            let names: Vec<String> = block
                .iter()
                .map(|&p| format!("`{}`", parameters[p].name))
                .collect();
            let entries: Vec<String> = correlations
                .iter()
                .enumerate()
                .filter(|(_, o)| block.contains(&o.between[0]))
                .map(|(k, _)| format!("correlations[{}]", k + 1))
                .collect();
            return Err(loc.at(
                &raw.correlations[i].between,
                format!(
                    "correlations[{}]: the correlation matrix of {} ({}; pairs not declared have r = 0) is not positive definite",
                    i + 1,
                    names.join(", "),
                    entries.join(", ")
                ),
            ));
        }
    }

    let compile_expr =
        |text: &Spanned<String>, scope: Scope, what: &str| -> Result<(Ast, Node), ModelError> {
            let ast = expr::parse(text.get_ref()).map_err(|e| loc.in_expr(text, &e, what))?;
            let node = ast.compile(&names.resolver(scope)).map_err(|e| {
                let hint = match scope {
                    Scope::Parameters => " (only parameters may appear here)",
                    Scope::Initial => " (only parameters and states may appear here)",
                    Scope::Dynamic => "",
                };
                let e = expr::ExprError {
                    pos: e.pos,
                    message: format!("{}{hint}", e.message),
                };
                loc.in_expr(text, &e, what)
            })?;
            Ok((ast, node))
        };
    let value_or_expr = |v: &Spanned<toml::Value>,
                         scope: Scope,
                         what: &str|
     -> Result<(Node, String), ModelError> {
        match v.get_ref() {
            toml::Value::Float(x) => Ok((Node::Const(*x), x.to_string())),
            toml::Value::Integer(i) => Ok((Node::Const(*i as f64), i.to_string())),
            toml::Value::String(s) => {
                let spanned = Spanned::new(v.span(), s.clone());
                let (_, node) = compile_expr(&spanned, scope, what)?;
                Ok((node, s.clone()))
            }
            _ => Err(loc.at(
                v,
                format!("{what}: expected a number or an expression string"),
            )),
        }
    };

    // States and their initial values.
    let mut states = Vec::with_capacity(n);
    for s in &raw.states {
        let what = format!("initial value of state `{}`", s.name.get_ref());
        let (initial, initial_text) = value_or_expr(&s.initial, Scope::Parameters, &what)?;
        states.push(State {
            name: s.name.get_ref().clone(),
            unit: s.unit.clone(),
            description: s.description.clone(),
            initial,
            initial_text,
        });
    }

    // Assignments, sorted by dependency (cycles are errors).
    let mut asts = Vec::new();
    let mut nodes = Vec::new();
    for a in &raw.assignments {
        let (ast, node) = compile_expr(
            &a.expr,
            Scope::Dynamic,
            &format!("assignment `{}`", a.name.get_ref()),
        )?;
        asts.push(ast);
        nodes.push(node);
    }
    let assignment_names: Vec<&str> = raw
        .assignments
        .iter()
        .map(|a| a.name.get_ref().as_str())
        .collect();
    let order = dependency_order(&assignment_names, &asts).map_err(|cycle| {
        let first = &raw.assignments[cycle[0]];
        let path: Vec<&str> = cycle.iter().map(|&i| assignment_names[i]).collect();
        loc.at(
            &first.expr,
            format!("assignment cycle: {} -> {}", path.join(" -> "), path[0]),
        )
    })?;
    let mut assignments = Vec::new();
    let mut assignment_slots = Vec::new();
    for &i in &order {
        let a = &raw.assignments[i];
        assignments.push(Derived {
            name: a.name.get_ref().clone(),
            unit: a.unit.clone(),
            description: a.description.clone(),
            expr: nodes[i].clone(),
            text: a.expr.get_ref().clone(),
        });
        assignment_slots.push(1 + n + np + i);
    }

    // Equations: exactly one per state.
    let mut equations = Vec::with_capacity(n);
    let mut equation_texts = Vec::with_capacity(n);
    for (key, text) in &raw.equations {
        if !raw.states.iter().any(|s| s.name.get_ref() == key) {
            return Err(loc.at(text, format!("equations.{key}: `{key}` is not a state")));
        }
    }
    for s in &raw.states {
        let name = s.name.get_ref();
        let Some(text) = raw.equations.get(name) else {
            return Err(loc.at(
                &s.name,
                format!("state `{name}` has no equation in [equations]"),
            ));
        };
        let (_, node) = compile_expr(text, Scope::Dynamic, &format!("equations.{name}"))?;
        equations.push(node);
        equation_texts.push(text.get_ref().clone());
    }

    let mut observables = Vec::new();
    for o in &raw.observables {
        let (_, node) = compile_expr(
            &o.expr,
            Scope::Dynamic,
            &format!("observable `{}`", o.name.get_ref()),
        )?;
        observables.push(Derived {
            name: o.name.get_ref().clone(),
            unit: o.unit.clone(),
            description: o.description.clone(),
            expr: node,
            text: o.expr.get_ref().clone(),
        });
    }

    let mut breakpoints = Vec::new();
    for b in &raw.model.breakpoints {
        breakpoints.push(compile_expr(b, Scope::Parameters, "model.breakpoints")?.1);
    }

    // Time-scheduled events: `events.<name>` (or `events[<n>]`, 1-based, when unnamed).
    let mut events = Vec::new();
    let mut event_times = Vec::new();
    for (i, e) in raw.events.iter().enumerate() {
        let key = match &e.name {
            Some(n) => {
                let name = n.get_ref();
                if name.trim().is_empty() {
                    return Err(loc.at(n, format!("events[{}].name: empty name", i + 1)));
                }
                if raw.events[..i]
                    .iter()
                    .any(|o| o.name.as_ref().is_some_and(|o| o.get_ref() == name))
                {
                    return Err(loc.at(n, format!("events.{name}: duplicate event name")));
                }
                format!("events.{name}")
            }
            None => format!("events[{}]", i + 1),
        };
        let (time, time_text) = value_or_expr(&e.time, Scope::Parameters, &format!("{key}.time"))?;
        if e.set.is_empty() {
            let at = e.name.as_ref().map_or(e.time.span(), |n| n.span());
            return Err(loc.at(
                &Spanned::new(at, ()),
                format!("{key}.set: the event sets no state"),
            ));
        }
        let mut set = Vec::new();
        for (state, v) in &e.set {
            let skey = format!("{key}.set.{state}");
            let idx = raw
                .states
                .iter()
                .position(|s| s.name.get_ref() == state)
                .ok_or_else(|| loc.at(v, format!("{skey}: `{state}` is not a state")))?;
            let (node, text) = value_or_expr(v, Scope::Dynamic, &skey)?;
            set.push((idx, node, text));
        }
        event_times.push((&e.time, key.clone()));
        events.push(TimedEvent {
            name: e
                .name
                .as_ref()
                .map_or_else(|| format!("event {}", i + 1), |n| n.get_ref().clone()),
            description: e.description.clone(),
            source: e.source.clone(),
            time,
            time_text,
            set,
        });
    }

    let state_of = |name: &Spanned<String>, key: &str| -> Result<usize, ModelError> {
        raw.states
            .iter()
            .position(|s| s.name.get_ref() == name.get_ref())
            .ok_or_else(|| loc.at(name, format!("{key}: `{}` is not a state", name.get_ref())))
    };

    let mut lymphodepletion = Vec::new();
    for (ld_name, ld) in &raw.lymphodepletion {
        let mut changes = Vec::new();
        for (state, v) in &ld.initial {
            let key = format!("lymphodepletion.{ld_name}.initial.{state}");
            let idx = raw
                .states
                .iter()
                .position(|s| s.name.get_ref() == state)
                .ok_or_else(|| loc.at(v, format!("{key}: `{state}` is not a state")))?;
            let (node, text) = value_or_expr(v, Scope::Initial, &key)?;
            changes.push((idx, node, text));
        }
        lymphodepletion.push(Lymphodepletion {
            name: ld_name.clone(),
            description: ld.description.clone(),
            source: ld.source.clone(),
            changes,
        });
    }

    let regimen = match &raw.regimen {
        None => None,
        Some(r) => {
            let dose_state = state_of(&r.dose_state, "regimen.dose_state")?;
            let factor = |f: &Option<Spanned<String>>, key: &str| -> Result<Node, ModelError> {
                match f {
                    None => Ok(Node::Const(1.0)),
                    Some(text) => Ok(compile_expr(text, Scope::Parameters, key)?.1),
                }
            };
            let tumor_state = match &r.tumor_state {
                None => None,
                Some(s) => Some(state_of(s, "regimen.tumor_state")?),
            };
            let positive =
                |v: &Option<Spanned<f64>>, key: &str| -> Result<Option<f64>, ModelError> {
                    match v {
                        None => Ok(None),
                        Some(x) if x.get_ref().is_finite() && *x.get_ref() >= 0.0 => {
                            Ok(Some(*x.get_ref()))
                        }
                        Some(x) => {
                            Err(loc.at(x, format!("regimen.{key}: must be a finite number >= 0")))
                        }
                    }
                };
            if let Some(ld) = &r.ld {
                if !raw.lymphodepletion.contains_key(ld.get_ref()) {
                    return Err(loc.at(
                        ld,
                        format!(
                            "regimen.ld: `{}` is not a declared lymphodepletion regimen",
                            ld.get_ref()
                        ),
                    ));
                }
            }
            Some(RegimenHooks {
                dose_state,
                dose_factor: factor(&r.dose_factor, "regimen.dose_factor")?,
                tumor_state,
                tumor_factor: factor(&r.tumor_factor, "regimen.tumor_factor")?,
                dose: positive(&r.dose, "dose")?,
                dose_per_kg: positive(&r.dose_per_kg, "dose_per_kg")?,
                weight: positive(&r.weight, "weight")?,
                tumor_burden: positive(&r.tumor_burden, "tumor_burden")?,
                ld: r.ld.as_ref().map(|s| s.get_ref().clone()),
                source: r.source.clone(),
            })
        }
    };

    let quantity =
        |q: &Option<Spanned<String>>, key: &str| -> Result<Option<Quantity>, ModelError> {
            let Some(q) = q else { return Ok(None) };
            let name = q.get_ref();
            if let Some(i) = raw
                .observables
                .iter()
                .position(|o| o.name.get_ref() == name)
            {
                return Ok(Some(Quantity::Observable(i)));
            }
            if let Some(i) = raw.states.iter().position(|s| s.name.get_ref() == name) {
                return Ok(Some(Quantity::State(i)));
            }
            Err(loc.at(
                q,
                format!("{key}: `{name}` is neither an observable nor a state"),
            ))
        };
    let (summary_cart, summary_tumor) = match &raw.summary {
        None => (None, None),
        Some(s) => (
            quantity(&s.cart, "summary.cart")?,
            quantity(&s.tumor, "summary.tumor")?,
        ),
    };

    let mut model = Model {
        name: raw.model.name.get_ref().clone(),
        title: raw.model.title.clone(),
        description: raw.model.description.clone(),
        time_unit,
        references: raw.references.clone(),
        parameters,
        correlations,
        states,
        assignments,
        equations,
        equation_texts,
        observables,
        breakpoints,
        regimen,
        lymphodepletion,
        summary_cart,
        summary_tumor,
        toxicity: None,
        interventions: Vec::new(),
        events,
        base: None,
        validation: None,
        source: loc.file.clone(),
        assignment_slots,
        rhs_program: Program::default(),
        deriv_slots: Vec::new(),
        obs_programs: Vec::new(),
        obs_slots: Vec::new(),
        consts: Vec::new(),
        slot_len: 0,
        jac: jacobian::Jacobian::default(),
    };
    model.build_programs();

    crate::toxicity::file::compile_into(
        &mut model,
        raw.toxicity.as_ref(),
        &raw.interventions,
        loc,
    )?;

    // Default initial values must be finite.
    let params: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
    let v = model.slots_with_params(&params);
    for (s, raw_s) in model.states.iter().zip(&raw.states) {
        let x = s.initial.eval(&v);
        if !x.is_finite() {
            return Err(loc.at(
                &raw_s.initial,
                format!("initial value of state `{}` is not finite ({x})", s.name),
            ));
        }
    }
    // Event times (default parameters) must be finite and not negative.
    for (e, (span, key)) in model.events.iter().zip(&event_times) {
        let x = e.time.eval(&v);
        if !(x.is_finite() && x >= 0.0) {
            return Err(loc.at(
                *span,
                format!("{key}.time: must be a finite time >= 0, got {x}"),
            ));
        }
    }
    Ok(model)
}

/// Topological order of assignments; on a cycle, the indices along it.
fn dependency_order(names: &[&str], asts: &[Ast]) -> Result<Vec<usize>, Vec<usize>> {
    let index: IndexMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let deps: Vec<Vec<usize>> = asts
        .iter()
        .map(|a| {
            a.names()
                .iter()
                .filter_map(|(n, _)| index.get(n).copied())
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the path, 2 = done. Depth-first with an explicit stack of
    // (assignment, next dependency to visit), so a long chain of assignments cannot overflow.
    let mut mark = vec![0u8; names.len()];
    let mut order = Vec::with_capacity(names.len());
    let mut path: Vec<(usize, usize)> = Vec::new();
    for root in 0..names.len() {
        if mark[root] != 0 {
            continue;
        }
        mark[root] = 1;
        path.push((root, 0));
        while let Some(top) = path.last_mut() {
            let (i, k) = *top;
            if let Some(&d) = deps[i].get(k) {
                top.1 += 1;
                match mark[d] {
                    0 => {
                        mark[d] = 1;
                        path.push((d, 0));
                    }
                    1 => {
                        let from = path.iter().position(|&(s, _)| s == d).unwrap_or(0);
                        return Err(path[from..].iter().map(|&(s, _)| s).collect());
                    }
                    _ => {}
                }
            } else {
                mark[i] = 2;
                order.push(i);
                path.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::{Model, BUNDLED};
    use crate::regimen::{Inputs, Scenario};

    /// The compiled right-hand side and observables (fused, reordered straight-line programs)
    /// give exactly the bits of the expression trees evaluated one by one, for every bundled model
    /// at pseudo-random states (zeros, negatives and large values included).
    #[test]
    fn compiled_programs_equal_the_expression_trees_bit_for_bit() {
        use rand::{RngCore, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.next_u64();
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for (name, _) in BUNDLED {
            let m = Model::resolve(name).unwrap();
            let Ok(sc) = Scenario::prepare(&m, &Inputs::default()) else {
                continue;
            };
            let mut v = m.slots_with_params(&sc.params);
            let y0 = crate::solve::initial_state(&m, &sc);
            let (mut y, mut dy) = (y0.clone(), vec![0.0; y0.len()]);
            for k in 0..500 {
                for (yi, y0i) in y.iter_mut().zip(&y0) {
                    let r = next();
                    *yi = match r % 6 {
                        0 => 0.0,
                        1 => *y0i,
                        2 => -((r >> 11) as f64) * 1e-6,
                        _ => (y0i.abs() + 1.0) * ((r >> 11) as f64 / (1u64 << 53) as f64) * 4.0,
                    };
                }
                let t = k as f64 * 0.013;
                m.rhs(&mut v, t, &y, &mut dy);
                // The trees, one at a time, in the same value vector.
                let mut w = m.slots_with_params(&sc.params);
                w[0] = t;
                w[1..1 + y.len()].copy_from_slice(&y);
                for (a, &slot) in m.assignments.iter().zip(&m.assignment_slots) {
                    w[slot] = a.expr.eval(&w);
                }
                for (i, eq) in m.equations.iter().enumerate() {
                    let want = eq.eval(&w);
                    assert!(same(dy[i], want), "{name}: d{i}/dt {} vs {want}", dy[i]);
                }
                for (i, o) in m.observables.iter().enumerate() {
                    let got = m.observe_one(&mut v, t, &y, i);
                    let want = o.expr.eval(&w);
                    assert!(same(got, want), "{name}: observable {i} {got} vs {want}");
                }
            }
        }
    }
}
