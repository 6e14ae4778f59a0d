//! Compiling a [`ModelSpec`] into a runnable [`Model`], one small stage per section of the file
//! (like mrgsolve's block handlers): names, parameters and correlations, states and dynamics,
//! events, regimen hooks, toxicity rules. Each stage returns its part; [`compile`] assembles them
//! and checks what needs the whole model (finite default initial values and event times).

mod algebraic;
mod delays;
mod dynamics;
mod names;
mod parameters;
mod rate_of;
mod regimen;
pub(in crate::model) mod toxicity;

use super::location::Locator;
use super::spec::{Meta, ModelSpec};
use super::{CompartmentSize, Model, ModelError, TimeUnit};
use crate::expr::{self, Ast, Node, Program};
use names::{Names, Scope};
use toml::Spanned;

/// Compile a spec; `loc` maps its spans to `file:line:col` in error messages.
pub(crate) fn compile(mut spec: ModelSpec, loc: &Locator) -> Result<Model, ModelError> {
    let time_unit = time_unit(&spec.model, loc)?;
    let mut names = Names::declare(&spec, loc)?;
    let declared = spec.assignments.len();
    rate_of::define(&mut spec, loc)?;
    names.hidden_assignments(&spec, declared);
    let delay_names = delays::collect(&spec);
    let delay_base = 1 + spec.states.len() + spec.parameters.len() + spec.assignments.len();
    names.delays(&delay_names, delay_base);
    let parameters = parameters::parameters(&spec.parameters, loc)?;
    let correlations = parameters::correlations(&spec.correlations, &parameters, loc)?;
    let cx = Context { names, loc };
    let states = dynamics::states(&spec.states, &cx)?;
    let (assignments, assignment_slots) = dynamics::assignments(&spec, &cx)?;
    let (equations, equation_texts) = dynamics::equations(&spec, &cx)?;
    let observables = dynamics::observables(&spec, &cx)?;
    let breakpoints = dynamics::breakpoints(&spec.model, &cx)?;
    let (events, state_events, event_times) = dynamics::events(&spec, &cx)?;
    let delays = delays::compile(&delay_names, delay_base, &cx)?;
    let lymphodepletion = regimen::lymphodepletion(&spec, &cx)?;
    let hooks = regimen::hooks(&spec, &cx)?;
    let summary = regimen::summary_hooks(&spec, loc)?;

    let mut model = Model {
        name: spec.model.name.get_ref().clone(),
        title: spec.model.title.clone(),
        description: spec.model.description.clone(),
        time_unit,
        references: spec.references.clone(),
        parameters,
        correlations,
        states,
        assignments,
        equations,
        equation_texts,
        observables,
        breakpoints,
        regimen: hooks,
        lymphodepletion,
        summary_cart: summary.cart,
        summary_tumor: summary.tumor,
        summary_transgene: summary.transgene,
        summary_b_cells: summary.b_cells,
        b_cell_aplasia_below: summary.b_cell_aplasia_below,
        toxicity: None,
        interventions: Vec::new(),
        events,
        concentrations: Vec::new(),
        amounts: Vec::new(),
        state_events,
        delays,
        base: None,
        validation: None,
        management: None,
        response: Default::default(),
        source: loc.file.clone(),
        assignment_slots,
        param_program: Program::default(),
        rhs_program: Program::default(),
        deriv_slots: Vec::new(),
        obs_programs: Vec::new(),
        obs_slots: Vec::new(),
        obs_reads: Vec::new(),
        obs_all: Program::default(),
        consts: Vec::new(),
        slot_len: 0,
        slot_pool: Default::default(),
        jac: super::jacobian::Jacobian::default(),
    };
    model.concentrations = per_compartment(&model, &spec.concentrations, "concentrations", loc)?;
    model.amounts = per_compartment(&model, &spec.amounts, "amounts", loc)?;
    model.build_programs();
    let (toxicity, interventions) =
        toxicity::rules(&model, spec.toxicity.as_ref(), &spec.interventions, loc)?;
    model.toxicity = toxicity;
    model.interventions = interventions;
    delays::check(&mut model, &spec, &cx)?;
    check_defaults(&model, &spec, &event_times, loc)?;
    Ok(model)
}

fn time_unit(meta: &Meta, loc: &Locator) -> Result<TimeUnit, ModelError> {
    let text = meta.time_unit.get_ref();
    TimeUnit::parse(text).ok_or_else(|| {
        loc.at(
            &meta.time_unit,
            format!(
                "model.time_unit: `{text}` is not second, minute, hour, day, week or dimensionless"
            ),
        )
    })
}

/// `[concentrations]` or `[amounts]` (`key`): each key an output column (state or observable),
/// each value the compartment's size: a parameter, or for a variable compartment a state or an
/// observable (an assignment with `observe = true`).
fn per_compartment(
    model: &Model,
    table: &indexmap::IndexMap<String, Spanned<String>>,
    key: &str,
    loc: &Locator,
) -> Result<Vec<(String, CompartmentSize)>, ModelError> {
    let mut out = Vec::new();
    for (name, size) in table {
        if model.state_index(name).is_none() && model.observable_index(name).is_none() {
            return Err(loc.at(
                size,
                format!("{key}.{name}: `{name}` is not a state or observable"),
            ));
        }
        let s = size.get_ref();
        let p = model
            .parameter_index(s)
            .map(CompartmentSize::Parameter)
            .or_else(|| model.state_index(s).map(CompartmentSize::State))
            .or_else(|| model.observable_index(s).map(CompartmentSize::Observable))
            .ok_or_else(|| {
                loc.at(
                    size,
                    format!(
                        "{key}.{name}: `{s}` is not a parameter, state or observable (a \
                         compartment size)"
                    ),
                )
            })?;
        out.push((name.clone(), p));
    }
    Ok(out)
}

/// Default initial values must be finite; event times (default parameters) finite and >= 0.
fn check_defaults(
    model: &Model,
    spec: &ModelSpec,
    event_times: &[(&Spanned<toml::Value>, String)],
    loc: &Locator,
) -> Result<(), ModelError> {
    let params: Vec<f64> = model.parameters.iter().map(|p| p.value).collect();
    let v = model.slots_with_params(&params);
    for (s, raw_s) in model.states.iter().zip(&spec.states) {
        let x = s.initial.eval(&v);
        if !x.is_finite() {
            return Err(loc.at(
                &raw_s.initial,
                format!("initial value of state `{}` is not finite ({x})", s.name),
            ));
        }
    }
    for (e, (span, key)) in model.events.iter().zip(event_times) {
        let x = e.time.eval(&v);
        if !(x.is_finite() && x >= 0.0) {
            return Err(loc.at(
                *span,
                format!("{key}.time: must be a finite time >= 0, got {x}"),
            ));
        }
    }
    Ok(())
}

/// What every stage needs to compile expressions: the name table and the file locator.
struct Context<'a> {
    names: Names,
    loc: &'a Locator<'a>,
}

impl Context<'_> {
    /// Parse and compile an expression string in a scope; errors point into the string.
    fn expr(
        &self,
        text: &Spanned<String>,
        scope: Scope,
        what: &str,
    ) -> Result<(Ast, Node), ModelError> {
        let loc = self.loc;
        let ast = expr::parse(text.get_ref()).map_err(|e| loc.in_expr(text, &e, what))?;
        let node = ast.compile(&self.names.resolver(scope)).map_err(|e| {
            let e = expr::ExprError {
                pos: e.pos,
                message: format!("{}{}", e.message, scope.hint()),
            };
            loc.in_expr(text, &e, what)
        })?;
        Ok((ast, node))
    }

    /// A number, or an expression string compiled in `scope`.
    fn value_or_expr(
        &self,
        v: &Spanned<toml::Value>,
        scope: Scope,
        what: &str,
    ) -> Result<(Node, String), ModelError> {
        value_or_expr(self.loc, v, what, |s| Ok(self.expr(s, scope, what)?.1))
    }

    /// The index of a state named by a spanned string, or an error at it.
    fn state_of(
        &self,
        spec: &ModelSpec,
        name: &Spanned<String>,
        key: &str,
    ) -> Result<usize, ModelError> {
        state_index(spec, name.get_ref()).ok_or_else(|| {
            self.loc
                .at(name, format!("{key}: `{}` is not a state", name.get_ref()))
        })
    }
}

fn state_index(spec: &ModelSpec, name: &str) -> Option<usize> {
    spec.states.iter().position(|s| s.name.get_ref() == name)
}

/// A number, or an expression string compiled by `compile` (shared by the stages).
fn value_or_expr(
    loc: &Locator,
    v: &Spanned<toml::Value>,
    what: &str,
    compile: impl FnOnce(&Spanned<String>) -> Result<Node, ModelError>,
) -> Result<(Node, String), ModelError> {
    match v.get_ref() {
        toml::Value::Float(x) => Ok((Node::Const(*x), x.to_string())),
        toml::Value::Integer(i) => Ok((Node::Const(*i as f64), i.to_string())),
        toml::Value::String(s) => {
            let spanned = Spanned::new(v.span(), s.clone());
            Ok((compile(&spanned)?, s.clone()))
        }
        _ => Err(loc.at(
            v,
            format!("{what}: expected a number or an expression string"),
        )),
    }
}
