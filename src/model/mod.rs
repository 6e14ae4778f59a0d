//! Models: states, parameters, assignments, equations and observables, loaded from a TOML file and
//! compiled once into expression trees over one flat value vector.
//!
//! Value vector layout (the "slots" every compiled expression reads):
//! `[t, state_1..state_n, param_1..param_p, assignment_1..assignment_a]`.

mod compile;
pub mod delay;
pub mod jacobian;
pub(crate) mod location;
mod native;
mod observe;
mod preset;
pub mod response;
pub mod rules;
mod slot_pool;
pub mod spec;

pub use crate::error::ModelError;
use crate::expr::{Node, Program, ProgramBuilder};
use location::Locator;
pub use native::jit_default;
pub use observe::Observer;
pub use spec::ModelSpec;

include!(concat!(env!("OUT_DIR"), "/bundled_models.rs"));

/// The unit of a time axis: the model's own (`[model] time_unit`), or the unit runs report time
/// in ([`crate::run::RunOptions::time_unit`]; day by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// Seconds (SBML's default time unit).
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days.
    #[default]
    Day,
    /// Weeks (7 days).
    Week,
    /// Dimensionless time (an SBML model whose time has no unit): one unit counts as one day
    /// wherever a span is given in days.
    Dimensionless,
}

impl TimeUnit {
    /// Every unit, shortest first.
    pub const ALL: [TimeUnit; 6] = [
        TimeUnit::Second,
        TimeUnit::Minute,
        TimeUnit::Hour,
        TimeUnit::Day,
        TimeUnit::Week,
        TimeUnit::Dimensionless,
    ];

    /// Units per day.
    pub fn per_day(self) -> f64 {
        match self {
            TimeUnit::Second => 86400.0,
            TimeUnit::Minute => 1440.0,
            TimeUnit::Hour => 24.0,
            TimeUnit::Day | TimeUnit::Dimensionless => 1.0,
            TimeUnit::Week => 1.0 / 7.0,
        }
    }

    /// Days per unit (exact for every unit: 1/86400 is not, so this divides).
    pub fn to_days(self, x: f64) -> f64 {
        match self {
            TimeUnit::Week => x * 7.0,
            u => x / u.per_day(),
        }
    }

    /// A span in days in this unit.
    pub fn from_days(self, days: f64) -> f64 {
        match self {
            TimeUnit::Week => days / 7.0,
            u => days * u.per_day(),
        }
    }

    /// The unit as written in model files.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Dimensionless => "dimensionless",
        }
    }

    /// A unit from its name, plural or abbreviation (`s`, `min`, `h`, `d`, `wk`).
    pub fn parse(text: &str) -> Option<TimeUnit> {
        Some(match text {
            "second" | "seconds" | "s" | "sec" => TimeUnit::Second,
            "minute" | "minutes" | "min" => TimeUnit::Minute,
            "hour" | "hours" | "h" => TimeUnit::Hour,
            "day" | "days" | "d" => TimeUnit::Day,
            "week" | "weeks" | "wk" => TimeUnit::Week,
            "dimensionless" => TimeUnit::Dimensionless,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
/// A compiled parameter: its default value, unit, bounds and source.
pub struct Parameter {
    /// Name, as used in expressions and output columns.
    pub name: String,
    /// Default value, in `unit`.
    pub value: f64,
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
    /// Lower bound, if any (a value below it is rejected).
    pub lower: Option<f64>,
    /// Upper bound, if any (a value above it is rejected).
    pub upper: Option<f64>,
    /// Variance of the log-normal inter-individual random effect, when declared.
    pub omega2: Option<f64>,
    /// A yes/no draw between patients (`bernoulli = true`): in a virtual population each patient's
    /// value is 1 with probability `value` (in [0, 1]) and 0 otherwise; the typical patient keeps
    /// `value`.
    pub bernoulli: bool,
}

/// A correlation between the random effects (eta) of two parameters that have `omega2`
/// (`[[correlations]]`): `cov(eta_a, eta_b) = r * sqrt(omega2_a * omega2_b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// The two parameter indices, in file order (never equal).
    pub between: [usize; 2],
    /// In (-1, 1).
    pub r: f64,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Where the value comes from (a citation, or "assumption").
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

/// Where the size of a compartment comes from (`[concentrations]`, `[amounts]`): a parameter
/// (fixed between events), or, for a variable compartment, a state (a rate rule) or an
/// observable assignment (an assignment rule).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CompartmentSize {
    Parameter(usize),
    State(usize),
    Observable(usize),
}

/// A compiled state: name, unit and initial value.
#[derive(Debug, Clone)]
pub struct State {
    /// Name, as used in expressions and output columns.
    pub name: String,
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Initial value: an expression over parameters only.
    pub initial: Node,
    /// The initial value as written.
    pub initial_text: String,
}

#[derive(Debug, Clone)]
/// A named expression: an assignment or an observable.
pub struct Derived {
    /// Name, as used in expressions and output columns.
    pub name: String,
    /// Unit, as written in outputs (e.g. `cells`, `pg/mL`, `1/day`).
    pub unit: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// The expression (compiled, or as written in a spec).
    pub expr: Node,
    /// The expression as written.
    pub text: String,
}

/// A quantity the summary reads: a state or an observable, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A state, by index.
    State(usize),
    /// An observable, by index.
    Observable(usize),
}

/// How infusions and tumor burden enter the model.
#[derive(Debug, Clone)]
pub struct RegimenHooks {
    /// Index of the state an infusion adds to.
    pub dose_state: usize,
    /// State units per infused cell (expression of parameters).
    pub dose_factor: Node,
    /// Index of the state set by the tumor burden.
    pub tumor_state: Option<usize>,
    /// State units per tumor cell (expression of parameters).
    pub tumor_factor: Node,
    /// Default dose in cells, or per kg.
    pub dose: Option<f64>,
    /// Default dose, cells/kg.
    pub dose_per_kg: Option<f64>,
    /// Default body weight, kg.
    pub weight: Option<f64>,
    /// Index of the parameter that receives the run's body weight, kg.
    pub weight_parameter: Option<usize>,
    /// Default tumor burden, cells.
    pub tumor_burden: Option<f64>,
    /// Default lymphodepletion regimen.
    pub ld: Option<String>,
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
}

/// A named lymphodepletion regimen: new initial values for some states.
#[derive(Debug, Clone)]
pub struct Lymphodepletion {
    /// Name, as used in expressions and output columns.
    pub name: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
    /// (state index, expression over parameters and pre-lymphodepletion initial states)
    pub changes: Vec<(usize, Node, String)>,
}

/// A time-scheduled event (`[[events]]`): at `time` (model time units, an expression of
/// parameters) each listed state gets a new value computed from the state just before the event.
#[derive(Debug, Clone)]
pub struct TimedEvent {
    /// Optional name (`events.<name>` in messages).
    pub name: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Where the value comes from (a citation, or "assumption").
    pub source: String,
    /// Event time, model time units (expression of parameters).
    pub time: Node,
    /// The event time as written.
    pub time_text: String,
    /// (state index, new value: expression of t, states, parameters and assignments, evaluated
    /// just before the event, text)
    pub set: Vec<(usize, Node, String)>,
}

/// What a triggered event sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTarget {
    State(usize),
    Parameter(usize),
}

/// A state-triggered event (`[[events]]` with `trigger`): it fires when `trigger` turns from
/// false to true, and executes `delay` later (SBML event semantics, see `docs/model-format.md`).
#[derive(Debug, Clone)]
pub struct StateEvent {
    /// Name (`events.<name>`, or `event <n>` when unnamed).
    pub name: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// The condition (true when non-zero): expression of t, states, parameters, assignments.
    pub trigger: Node,
    /// The trigger as written.
    pub trigger_text: String,
    /// Time from firing to execution, model units (evaluated when the trigger fires).
    pub delay: Option<Node>,
    /// Order of simultaneous executions, highest first (evaluated at execution).
    pub priority: Option<Node>,
    /// `false`: a pending execution is cancelled when the trigger turns false first.
    pub persistent: bool,
    /// The trigger's value before the start.
    pub initial_value: bool,
    /// New values computed when the trigger fires (else when the event executes).
    pub values_at_trigger: bool,
    /// (what, new value, text)
    pub set: Vec<(EventTarget, Node, String)>,
}

/// A compiled model, ready to simulate.
#[derive(Debug, Clone)]
pub struct Model {
    /// Model name.
    pub name: String,
    /// One-line title.
    pub title: String,
    /// Free text shown by `cartox describe`.
    pub description: String,
    /// Unit of the model's own time axis (outputs are in days).
    pub time_unit: TimeUnit,
    /// Sources the parameters cite.
    pub references: Vec<spec::Reference>,
    /// Parameters in file order (their slots follow the states).
    pub parameters: Vec<Parameter>,
    /// Correlations between the parameters' random effects (`[[correlations]]`), in file order.
    pub correlations: Vec<Correlation>,
    /// States in file order.
    pub states: Vec<State>,
    /// In evaluation (dependency) order.
    pub assignments: Vec<Derived>,
    /// One right-hand side per state, in state order.
    pub equations: Vec<Node>,
    /// The equations as written, in state order.
    pub equation_texts: Vec<String>,
    /// Output quantities, in file order.
    pub observables: Vec<Derived>,
    /// Times (model units) where the right-hand side is discontinuous: expressions of parameters.
    pub breakpoints: Vec<Node>,
    /// How doses and tumor burden enter the model (`None`: no `[regimen]`).
    pub regimen: Option<RegimenHooks>,
    /// Named lymphodepletion regimens.
    pub lymphodepletion: Vec<Lymphodepletion>,
    /// CAR-T quantity the summary metrics read.
    pub summary_cart: Option<Quantity>,
    /// Tumor quantity the summary metrics read.
    pub summary_tumor: Option<Quantity>,
    /// Transgene (qPCR) quantity of `[summary]`: `cart_cmax_transgene`, `cart_auc28_transgene`.
    pub summary_transgene: Option<Quantity>,
    /// Normal B-cell quantity of `[summary]`: `b_cell_aplasia`, `b_cell_recovery_day`.
    pub summary_b_cells: Option<Quantity>,
    /// B-cell aplasia threshold (unit of `summary_b_cells`).
    pub b_cell_aplasia_below: Option<f64>,
    /// Modelled CRS/ICANS risk grading rules (`[toxicity]`), see `docs/toxicity.md`.
    pub toxicity: Option<rules::Toxicity>,
    /// Rescue therapies triggered by the grades (`[[interventions]]`).
    pub interventions: Vec<rules::Intervention>,
    /// Time-scheduled state changes (`[[events]]`), in file order.
    pub events: Vec<TimedEvent>,
    /// Output columns that are concentrations (`[concentrations]`): (column, the compartment's
    /// size); `--amounts` reports them times that size.
    pub concentrations: Vec<(String, CompartmentSize)>,
    /// Output columns that are amounts of a species in a compartment (`[amounts]`): (column,
    /// the compartment's size); `--concentrations` divides them by that size.
    pub amounts: Vec<(String, CompartmentSize)>,
    /// State-triggered events (`[[events]]` with `trigger`), in file order.
    pub state_events: Vec<StateEvent>,
    /// Each `delay(x, tau)` the expressions use (see [`delay`]); their slots follow the
    /// assignments'.
    pub delays: Vec<delay::Delayed>,
    /// For a product preset: the base model's name.
    pub base: Option<String>,
    /// For a product preset: its trial's grading scale and management protocol.
    pub management: Option<rules::Management>,
    /// Tumor response criteria (cut-points on the tumor relative to baseline); the lymphoma
    /// default unless a preset's `[response]` gives its trial's published criteria.
    pub response: response::ResponseCriteria,
    /// For a product preset: its `[validation]` table (published targets), see `cartox validate`.
    pub validation: Option<toml::Table>,
    /// File name used in messages.
    pub source: String,
    /// Slot of each assignment, parallel to `assignments`.
    assignment_slots: Vec<usize>,
    /// Straight-line code of everything the programs compute from parameters and constants
    /// alone (hoisted out of them), run whenever parameters are written into a value vector.
    param_program: Program,
    /// Straight-line code of the right-hand side: the assignments, then one slot per derivative.
    rhs_program: Program,
    deriv_slots: Vec<usize>,
    /// Per observable: the assignments it needs, then its value into `obs_slots[i]`.
    obs_programs: Vec<Program>,
    obs_slots: Vec<usize>,
    /// Per observable: the states (indices) its program reads, the only ones
    /// [`observe_one`](Self::observe_one) writes into the value vector.
    obs_reads: Vec<Vec<usize>>,
    /// Every observable at once (the assignments they need, then their values), called with
    /// time and states as arguments and the values written to an output array
    /// ([`observe`](Self::observe)).
    obs_all: Program,
    /// Constant slots of the programs, and the length of a value vector.
    consts: Vec<(usize, f64)>,
    slot_len: usize,
    /// Value vectors handed back after use ([`recycle_slots`](Self::recycle_slots)).
    slot_pool: slot_pool::SlotPool,
    /// The analytic Jacobian of the right-hand side (see [`Model::jacobian`]).
    jac: jacobian::Jacobian,
}

impl Model {
    /// A bundled model by name (`models/<name>.toml`, embedded in the binary).
    pub fn bundled(name: &str) -> Option<crate::Result<Model>> {
        let (_, text) = BUNDLED.iter().find(|(n, _)| *n == name)?;
        Some(Model::from_toml(text, &format!("models/{name}.toml")))
    }

    /// The names of the bundled models, sorted.
    pub fn bundled_names() -> impl Iterator<Item = &'static str> {
        BUNDLED.iter().map(|(n, _)| *n)
    }

    /// The bundled default model.
    pub fn default_model() -> Model {
        Model::bundled(DEFAULT_MODEL)
            .expect("the default model is bundled")
            .expect("the bundled default model compiles")
    }

    /// Compile a spec built in code (by the SBML importer, say); `label` names its source in
    /// error messages (which carry no line numbers, the spec having no text).
    pub fn from_spec(spec: ModelSpec, label: &str) -> crate::Result<Model> {
        Ok(compile::compile(spec, &Locator::new(label, ""))?)
    }

    /// Parse and compile model-file text; `label` names the file in error messages.
    pub fn from_toml(text: &str, label: &str) -> crate::Result<Model> {
        if preset::is_preset(text) {
            return Ok(preset::load(text, label, 0)?);
        }
        let loc = Locator::new(label, text);
        let spec: ModelSpec = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;
        Ok(compile::compile(spec, &loc)?)
    }

    /// Number of states.
    pub fn n_states(&self) -> usize {
        self.states.len()
    }

    /// Length of the value vector expressions read.
    pub fn n_slots(&self) -> usize {
        1 + self.states.len() + self.parameters.len() + self.assignments.len() + self.delays.len()
    }

    /// Slot of parameter `i` in the value vector.
    pub fn param_slot(&self, i: usize) -> usize {
        1 + self.states.len() + i
    }

    /// Index of the parameter `name`.
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.parameters.iter().position(|p| p.name == name)
    }

    /// Index of the state `name`.
    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    /// The lymphodepletion regimen `name`.
    pub fn ld_regimen(&self, name: &str) -> Option<&Lymphodepletion> {
        self.lymphodepletion.iter().find(|l| l.name == name)
    }

    /// A fresh value vector holding the given parameter values (time, states and assignments 0)
    /// and what the programs compute from parameters alone.
    pub fn slots_with_params(&self, params: &[f64]) -> Vec<f64> {
        let mut v = vec![0.0; self.slot_len.max(self.n_slots())];
        v[1 + self.states.len()..1 + self.states.len() + params.len()].copy_from_slice(params);
        for &(slot, c) in &self.consts {
            v[slot] = c;
        }
        self.param_program.run(&mut v);
        v
    }

    /// Write new parameter values into a value vector made by
    /// [`slots_with_params`](Self::slots_with_params) (and recompute what depends on them
    /// alone); nothing is done when they are the values already there.
    pub fn set_params(&self, v: &mut [f64], params: &[f64]) {
        let start = self.param_slot(0);
        let slots = &mut v[start..start + params.len()];
        if slots != params {
            slots.copy_from_slice(params);
            self.param_program.run(v);
        }
    }

    /// Compile the right-hand side and the observables into straight-line programs.
    fn build_programs(&mut self) {
        let mut b = ProgramBuilder::new(self.n_slots());
        // Parameters are fixed between segments: what depends on them alone is hoisted.
        b.invariant((0..self.parameters.len()).map(|i| self.param_slot(i)));
        for (a, &slot) in self.assignments.iter().zip(&self.assignment_slots) {
            b.emit_into(&a.expr, slot);
        }
        let mut deriv_slots = Vec::with_capacity(self.equations.len());
        for eq in &self.equations {
            let d = b.reserve();
            b.emit_into(eq, d);
            deriv_slots.push(d);
        }
        let mut rhs = b.finish();
        rhs.set_io(self.states.len(), &deriv_slots);
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
        // All observables in one program: each needed assignment once, in evaluation order.
        let mut needed = vec![false; self.assignments.len()];
        for o in &self.observables {
            for k in self.assignments_needed_by(&o.expr) {
                needed[k] = true;
            }
        }
        for k in (0..needed.len()).filter(|&k| needed[k]) {
            b.emit_into(&self.assignments[k].expr, self.assignment_slots[k]);
        }
        let mut all_slots = Vec::with_capacity(self.observables.len());
        for o in &self.observables {
            let d = b.reserve();
            b.emit_into(&o.expr, d);
            all_slots.push(d);
        }
        let mut obs_all = b.finish();
        obs_all.set_io(self.states.len(), &all_slots);
        self.rhs_program = rhs;
        self.deriv_slots = deriv_slots;
        let n = self.states.len();
        self.obs_reads = obs_programs
            .iter()
            .map(|p| p.reads_in(1..1 + n).into_iter().map(|s| s - 1).collect())
            .collect();
        self.obs_programs = obs_programs;
        self.obs_slots = obs_slots;
        self.obs_all = obs_all;
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
        self.param_program = b.hoisted();
        self.slot_len = b.len();
        self.consts = b.consts;
        self.compile_native_by_default();
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
        if self.rhs_program.run_native_io(v, t, y, dy) {
            return;
        }
        self.rhs_interpreted(v, t, y, dy);
    }

    /// [`rhs`](Self::rhs) without machine code. Out of line, so that the machine-code path
    /// inlined into the solvers' right-hand-side wrappers needs no saved registers (a tail call
    /// of ~25 instructions instead of ~48 per evaluation, callgrind, docs/solvers.md eleventh
    /// session).
    #[cold]
    #[inline(never)]
    fn rhs_interpreted(&self, v: &mut [f64], t: f64, y: &[f64], dy: &mut [f64]) {
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

    /// The structurally non-zero entries of [`jacobian`](Self::jacobian) at (t, y), in the order
    /// of [`jacobian_sparsity`](Self::jacobian_sparsity) (`vals` has one slot per entry): the
    /// values `jacobian` writes at those positions, bit for bit, without the n x n matrix.
    pub fn jacobian_entries(&self, v: &mut [f64], t: f64, y: &[f64], vals: &mut [f64]) {
        set_time_and_state(v, t, y);
        self.jac.fill_entries(v, vals);
    }

    /// The structurally non-zero entries (row i, column j) of [`jacobian`](Self::jacobian),
    /// row-major.
    pub fn jacobian_sparsity(&self) -> &[(usize, usize)] {
        self.jac.sparsity()
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
