#!/usr/bin/env bash
# Regenerates the figure gallery in plots/ with cartox itself.
# Usage: plots/make.sh   (from anywhere; builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cartox=./target/release/cartox
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The default patient (axi-cel-like LBCL, 2e6 cells/kg x 70 kg after Flu/Cy).
$cartox simulate --plot plots/default-patient.png --title "Default patient: 2e6 CAR-T cells/kg after Flu/Cy" >/dev/null

# 2. Dose scenarios.
$cartox scenarios --vary dose=1e7,1e8,1e9 --plot plots/dose-scenarios.png \
    --panels cart_blood,tumor,crs_drive,icans_drive --title "Dose scenarios (cells)" >/dev/null

# 3. Lymphodepletion vs none.
$cartox scenarios --vary ld=none,flu-cy-low,flu-cy --plot plots/lymphodepletion.png \
    --panels cart_blood,normal_t_blood,crs_drive --title "Lymphodepletion opens room for expansion" >/dev/null

# 4. A 500-patient virtual population: median and 5-95% band.
$cartox population --n 500 --seed 2026 --out "$tmp/pop.csv"
$cartox sweep --params "$tmp/pop.csv" --out "$tmp/results.csv" --timecourses "$tmp/population.csv" --dt 0.25 --quiet
$cartox plot "$tmp/population.csv" --out plots/population-500.png \
    --panels cart_blood,tumor,crs_drive,icans_drive --title "500 virtual patients (default model)"

# 5. A published model from the library: Kimmel 2021 (BIOMD0000001041), 90 days.
$cartox simulate --model kimmel2021 --days 90 --plot plots/kimmel2021.png \
    --title "Kimmel 2021: T-cell competition after lymphodepletion" >/dev/null

# 6. Sensitivity: Sobol indices of cart_cmax, P(CRS grade >= 2) and P(ICANS) over the axi-cel
#    population (docs/sensitivity.md), 256 base rows x 8 points x 100 patients = 204,800 runs.
$cartox sensitivity -m axi-cel --method sobol --params k_act,rho_E,delta_E,beta,a_A,k_IL6 \
    --around 0.5 --n 256 --population 100 --seed 2026 \
    --outputs 'cart_cmax,P(crs_grade>=2),P(icans_grade>=1)' --out "$tmp/sobol.csv" \
    --plot plots/sensitivity-axi-cel.png -q \
    --title "Sobol indices, axi-cel population (100 patients per point), parameters x/÷ 1.5"

# 7. Local sensitivities (tornado) of the default patient.
$cartox sensitivity --method local --params k_act,rho_E,delta_E,beta,a_A,k_IL6 \
    --outputs cart_cmax,cart_auc,il6_peak,crs_onset --out "$tmp/local.csv" -q \
    --plot plots/sensitivity-local.png --title "Local sensitivities d ln y / d ln p, default patient"

# 8. Drugs and the ICANS mechanism (issue 14): one patient with a high tumor burden (3e11 cells),
#    with and without the management protocol: tocilizumab (ug/mL) and its IL-6 receptor
#    occupancy, dexamethasone (ng/mL), serum IL-6 (rises under tocilizumab), the CRS drive,
#    endothelial activation and the ICANS drive (barrier disruption).
$cartox simulate --tumor-burden 3e11 --days 28 --dt 0.05 --out "$tmp/treated.csv" >/dev/null
$cartox simulate --tumor-burden 3e11 --days 28 --dt 0.05 --no-interventions --out "$tmp/untreated.csv" >/dev/null
$cartox plot "$tmp/treated.csv" "$tmp/untreated.csv" --out plots/drugs-icans.png --height 1400 \
    --panels tocilizumab,il6r_occupancy,steroid,il6,crs_drive,endothelial_activation,icans_drive \
    --title "Tocilizumab and dexamethasone PK, CRS and ICANS drives (3e11 tumor cells; 2nd file: no drugs)"

# 9. A MAP fit of the default model to the ZUMA-1 median CAR-T profile (docs/fitting.md).
$cartox fit --data docs/data/zuma1-moffitt-medians.csv --estimate rho_E,delta_E,k_EM --prior typical \
    --out "$tmp/fit.csv" --plot plots/fit-zuma1-medians.png -q

# The browser explorer's screenshots (web-explorer.png, web-population.png) are taken by its
# browser tests: web/build.sh && web/test.sh.

echo "wrote: $(ls plots/*.png | tr '\n' ' ')"
