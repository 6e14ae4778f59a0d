//! kimmel2021 (BIOMD0000001041) written directly in Rust on ode_solvers' Dopri5: the reference
//! the model-file evaluator is measured against (`benches/simulate.rs`, `benches/evaluator_count.rs`).

use nalgebra::SVector;
use ode_solvers::continuous_output_model::ContinuousOutputModel;
use ode_solvers::{Dopri5, OutputType, System};

/// kimmel2021 (BIOMD0000001041) written directly in Rust, same values as the model file.
struct Kimmel {
    k_n: f64,
    k_c: f64,
    r_n: f64,
    rho_c: f64,
    a: f64,
    b: f64,
    r_b: f64,
    gamma_b: f64,
    k_b: f64,
}

type S3 = SVector<f64, 3>;

impl System<f64, S3> for Kimmel {
    #[inline]
    fn system(&self, _t: f64, y: &S3, dy: &mut S3) {
        let (n, c, bb) = (y[0], y[1], y[2]);
        let t = n + c;
        let d = t - self.k_n;
        let r_c = self.rho_c + self.b * d * d / (self.a * t * t + d * d);
        dy[0] = -self.r_n * n * (t / self.k_n).ln();
        dy[1] = -r_c * c * (t / self.k_c).ln();
        dy[2] = self.r_b * bb - self.gamma_b * bb * (c / (self.k_b + c));
    }
}

pub fn direct_kimmel(days: f64) -> ContinuousOutputModel<f64, S3> {
    let sys = Kimmel {
        k_n: 500.0,
        k_c: 139.0,
        r_n: 0.17,
        rho_c: 0.0251,
        a: 0.423,
        b: 0.525,
        r_b: 0.01,
        gamma_b: 1.15,
        k_b: 4.05,
    };
    // Same settings as cartox's Dopri5 segment (src/solve/dopri.rs).
    let mut stepper = Dopri5::from_param(
        sys,
        0.0,
        days,
        0.0,
        S3::new(6.0, 0.36, 94.86),
        1e-6,
        1e-9,
        0.9,
        0.04,
        0.2,
        10.0,
        days,
        0.0,
        500_000,
        u32::MAX,
        OutputType::Continuous,
    );
    let mut dense = ContinuousOutputModel::new();
    stepper
        .integrate_with_continuous_output_model(&mut dense)
        .unwrap();
    dense
}
