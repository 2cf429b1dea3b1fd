//! Deterministic synthetic customer-account population.
//!
//! Stands in for the telecom notebook's account table (product mix, six months of internet
//! usage and bills, promotions, demographics, click-stream, alarm-app usage, infrastructure) so
//! the demo model, tests and batch-scoring benchmarks have realistic rows without real data.
//!
//! Every account is a pure function of `(seed, index)`: the row's random stream is seeded from
//! a hash of both, so account `i` is the same whether 10 or 10 million rows are generated, and
//! rows can be produced in any order or in parallel. The stream is xoshiro256++ and every
//! transcendental function comes from `libm` (a pure-Rust implementation), so the values are
//! bit-identical on every platform, not only on this one.
//!
//! Months are numbered backwards: `_m1` is the most recent complete month, `_m6` six months
//! ago. Months before the account existed (`tenure_months < k`) are missing.
//!
//! | feature | meaning | missing |
//! |---|---|---|
//! | `n_mobile_lines`, `n_internet`, `n_tv`, `n_fixed_phone`, `n_streaming_addons`, `n_devices_financed` | product-mix counts | never |
//! | `usage_gb_m1..m6` | home-internet usage, GB (0 without internet) | before tenure |
//! | `bill_amount_m1..m6` | monthly bill, currency units, cents | before tenure |
//! | `promo_expiring_next_month` | 0/1 | never |
//! | `n_active_promos`, `promo_discount_amount` | promotions running now, their monthly discount | never |
//! | `tenure_months`, `contract_months_remaining` | account age; 0 = month-to-month | never |
//! | `autopay`, `paperless_billing` | 0/1 | never |
//! | `late_payments_12m`, `n_support_calls_3m`, `n_complaints_12m` | counts | never |
//! | `days_since_last_contact` | days | ~10 % (never contacted) |
//! | `nps_score` | 0..10 survey answer | ~70 % (not surveyed) |
//! | `age` | years | ~8 % |
//! | `has_children` | 0/1 | ~20 % |
//! | `household_size` | persons | ~15 % |
//! | `income_band` | 1..5 | ~30 % |
//! | `is_homeowner` | 0/1 | ~25 % |
//! | `is_business`, `urban` | 0/1 | never |
//! | `click_sessions_m1..m3` | web/app sessions per month | never |
//! | `click_mobile_pages`, `click_internet_pages`, `click_tv_pages`, `click_alarm_pages`, `click_upgrade_pages`, `click_cart_adds`, `click_support_pages` | page views / cart adds, last 30 days | never |
//! | `has_alarm_service`, `alarm_app_sessions_m1..m3` | alarm product, app sessions per month | never |
//! | `infra_type` | categorical: 0 copper, 1 cable, 2 fiber, 3 fwa, 4 satellite | never |
//! | `speed_tier_mbps` | subscribed speed | without internet |
//! | `max_speed_available_mbps` | best speed at the address | ~3 % |
//! | `outages_3m` | outages at the address | never |
//! | `mobile_data_gb_m1`, `roaming_days_3m`, `overage_charges_3m` | mobile usage | never |
//! | `device_age_months` | age of the newest handset | without mobile lines |
//! | `app_installed`, `email_optin` | 0/1 | never |
//! | `store_distance_km` | distance to the nearest shop | ~5 % |
//! | `n_household_accounts` | accounts at the address | never |
//! | `months_since_last_product_change` | months | ~35 % (never changed) |
//!
//! The label ("took a new product in the next quarter", ~1 % positive) is drawn from a latent
//! logistic model. Its strongest driver is an unobserved purchase intent that shows only through
//! noisy click counts, so a gradient-boosted model reaches a ROC AUC of about 0.8, not 1.

use std::io::{self, Write};

use crate::random::{Draw, mix64};

/// Number of features in a generated row.
pub const N_FEATURES: usize = 64;

/// Name of the account-id column written by [`write_csv`].
pub const ACCOUNT_ID_COLUMN: &str = "account_id";

/// Name of the label column written by [`write_csv`] when asked for.
pub const TARGET_COLUMN: &str = "target";

/// Defines the feature indices and [`FEATURE_NAMES`] from one list, so they cannot drift apart.
macro_rules! define_features {
    ($($variant:ident => $name:literal,)*) => {
        /// Column index of each feature in a generated row.
        #[derive(Clone, Copy)]
        #[repr(usize)]
        enum F {
            $($variant,)*
        }

        /// The 64 feature names, in row order (the order the demo model expects).
        pub const FEATURE_NAMES: [&str; N_FEATURES] = [$($name,)*];
    };
}

define_features! {
    NMobileLines => "n_mobile_lines",
    NInternet => "n_internet",
    NTv => "n_tv",
    NFixedPhone => "n_fixed_phone",
    NStreamingAddons => "n_streaming_addons",
    NDevicesFinanced => "n_devices_financed",
    UsageGbM1 => "usage_gb_m1",
    UsageGbM2 => "usage_gb_m2",
    UsageGbM3 => "usage_gb_m3",
    UsageGbM4 => "usage_gb_m4",
    UsageGbM5 => "usage_gb_m5",
    UsageGbM6 => "usage_gb_m6",
    BillAmountM1 => "bill_amount_m1",
    BillAmountM2 => "bill_amount_m2",
    BillAmountM3 => "bill_amount_m3",
    BillAmountM4 => "bill_amount_m4",
    BillAmountM5 => "bill_amount_m5",
    BillAmountM6 => "bill_amount_m6",
    PromoExpiringNextMonth => "promo_expiring_next_month",
    NActivePromos => "n_active_promos",
    PromoDiscountAmount => "promo_discount_amount",
    TenureMonths => "tenure_months",
    ContractMonthsRemaining => "contract_months_remaining",
    Autopay => "autopay",
    PaperlessBilling => "paperless_billing",
    LatePayments12m => "late_payments_12m",
    NSupportCalls3m => "n_support_calls_3m",
    NComplaints12m => "n_complaints_12m",
    DaysSinceLastContact => "days_since_last_contact",
    NpsScore => "nps_score",
    Age => "age",
    HasChildren => "has_children",
    HouseholdSize => "household_size",
    IncomeBand => "income_band",
    IsHomeowner => "is_homeowner",
    IsBusiness => "is_business",
    Urban => "urban",
    ClickSessionsM1 => "click_sessions_m1",
    ClickSessionsM2 => "click_sessions_m2",
    ClickSessionsM3 => "click_sessions_m3",
    ClickMobilePages => "click_mobile_pages",
    ClickInternetPages => "click_internet_pages",
    ClickTvPages => "click_tv_pages",
    ClickAlarmPages => "click_alarm_pages",
    ClickUpgradePages => "click_upgrade_pages",
    ClickCartAdds => "click_cart_adds",
    ClickSupportPages => "click_support_pages",
    HasAlarmService => "has_alarm_service",
    AlarmAppSessionsM1 => "alarm_app_sessions_m1",
    AlarmAppSessionsM2 => "alarm_app_sessions_m2",
    AlarmAppSessionsM3 => "alarm_app_sessions_m3",
    InfraType => "infra_type",
    SpeedTierMbps => "speed_tier_mbps",
    MaxSpeedAvailableMbps => "max_speed_available_mbps",
    Outages3m => "outages_3m",
    MobileDataGbM1 => "mobile_data_gb_m1",
    RoamingDays3m => "roaming_days_3m",
    OverageCharges3m => "overage_charges_3m",
    DeviceAgeMonths => "device_age_months",
    AppInstalled => "app_installed",
    EmailOptin => "email_optin",
    StoreDistanceKm => "store_distance_km",
    NHouseholdAccounts => "n_household_accounts",
    MonthsSinceLastProductChange => "months_since_last_product_change",
}

/// Features LightGBM should treat as categorical (integer codes).
pub const CATEGORICAL_FEATURES: &[&str] = &["infra_type"];

/// Names of the `infra_type` codes, indexed by code.
pub const INFRA_TYPES: [&str; 5] = ["copper", "cable", "fiber", "fwa", "satellite"];

/// Offset of the label's latent logit, tuned so about 1 % of accounts are positive.
const LABEL_INTERCEPT: f64 = -6.65;

/// Internet speed tiers sold, Mbit/s.
const SPEED_TIERS: [f64; 7] = [16.0, 50.0, 100.0, 300.0, 500.0, 1000.0, 2000.0];

/// Seeded generator of synthetic accounts.
///
/// Account `i` depends only on the seed and `i`; [`AccountGenerator::next_account`] walks
/// `i = 0, 1, 2, ...` and [`AccountGenerator::account_at`] jumps to any index.
#[derive(Debug, Clone)]
pub struct AccountGenerator {
    seed: u64,
    next_index: u64,
}

impl AccountGenerator {
    /// A generator for population `seed`, positioned at account 0.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            next_index: 0,
        }
    }

    /// Index of the account the next call to [`AccountGenerator::next_account`] produces.
    pub fn position(&self) -> u64 {
        self.next_index
    }

    /// Writes the next account's 64 features into `row` (NaN = missing) and returns its label.
    ///
    /// # Panics
    ///
    /// If `row.len() != N_FEATURES`.
    pub fn next_account(&mut self, row: &mut [f64]) -> bool {
        let label = self.account_at(self.next_index, row);
        self.next_index += 1;
        label
    }

    /// Writes account `index`'s features into `row` and returns its label, without moving the
    /// generator.
    ///
    /// # Panics
    ///
    /// If `row.len() != N_FEATURES`.
    pub fn account_at(&self, index: u64, row: &mut [f64]) -> bool {
        assert_eq!(
            row.len(),
            N_FEATURES,
            "a row holds exactly N_FEATURES values"
        );
        let mut draw = Draw::new(row_key(self.seed, index));
        generate(&mut draw, row)
    }

    /// The account id of row `i`: `BAN` and ten digits, e.g. `BAN0000000042`.
    pub fn account_id(i: u64) -> String {
        format!("BAN{i:010}")
    }
}

/// Writes `rows` accounts of population `seed` as CSV.
///
/// The header is `account_id,<the 64 FEATURE_NAMES>[,target]`; a missing value is an empty
/// cell; numbers are written in their shortest form that parses back to the same `f64`, so a
/// parsed file scores exactly like the generated rows. Output is buffered internally, so `w`
/// need not be a `BufWriter`.
///
/// # Errors
///
/// Any error `w` returns.
pub fn write_csv<W: Write>(mut w: W, rows: u64, seed: u64, with_label: bool) -> io::Result<()> {
    const FLUSH_AT: usize = 1 << 18;
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 4096);
    buf.extend_from_slice(ACCOUNT_ID_COLUMN.as_bytes());
    for name in FEATURE_NAMES {
        buf.push(b',');
        buf.extend_from_slice(name.as_bytes());
    }
    if with_label {
        buf.push(b',');
        buf.extend_from_slice(TARGET_COLUMN.as_bytes());
    }
    buf.push(b'\n');

    let mut generator = AccountGenerator::new(seed);
    let mut row = [0.0_f64; N_FEATURES];
    for i in 0..rows {
        let label = generator.next_account(&mut row);
        buf.extend_from_slice(b"BAN");
        push_padded_u64(&mut buf, i, 10);
        for &value in &row {
            buf.push(b',');
            push_number(&mut buf, value);
        }
        if with_label {
            buf.extend_from_slice(if label { b",1" } else { b",0" });
        }
        buf.push(b'\n');
        if buf.len() >= FLUSH_AT {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()
}

/// Appends `value` in its shortest round-trip form; NaN appends nothing.
fn push_number(buf: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        return;
    }
    // Most cells are counts and flags: integers skip the float formatter.
    if value == value.trunc() && value.abs() < 1e15 {
        // The guard above makes the cast exact.
        let int = value as i64;
        // The sign bit, not `int < 0`, so -0.0 prints as `-0` like `Display` does.
        if value.is_sign_negative() {
            buf.push(b'-');
        }
        push_padded_u64(buf, int.unsigned_abs(), 1);
    } else if let Some(cents) = exact_cents(value) {
        // Money and GB carry two decimals: print the decimal itself. `value` is the double
        // nearest to cents/100, so this is exactly the shortest form `Display` would print.
        if cents < 0 {
            buf.push(b'-');
        }
        let cents = cents.unsigned_abs();
        push_padded_u64(buf, cents / 100, 1);
        buf.push(b'.');
        let fraction = cents % 100;
        buf.push(b'0' + (fraction / 10) as u8);
        if fraction % 10 != 0 {
            buf.push(b'0' + (fraction % 10) as u8);
        }
    } else {
        // `Display` for f64 is the shortest representation that round-trips.
        let _ = write!(buf, "{value}");
    }
}

/// `value * 100` as an integer when `value` is the double nearest to a whole number of cents.
fn exact_cents(value: f64) -> Option<i64> {
    let cents = (value * 100.0).round();
    if cents.abs() < 1e15 && cents / 100.0 == value {
        // The bound above makes the cast exact.
        Some(cents as i64)
    } else {
        None
    }
}

/// Appends `n` in decimal, left-padded with zeros to at least `width` digits.
fn push_padded_u64(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while n > 0 {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = start.min(digits.len().saturating_sub(width.clamp(1, 20)));
    buf.extend_from_slice(&digits[start..]);
}

/// Seed of account `index`'s random stream in population `seed`.
///
/// Hashing (rather than `seed + index`) matters: xoshiro's `seed_from_u64` runs SplitMix64,
/// whose streams from nearby states overlap, which would correlate neighbouring accounts.
fn row_key(seed: u64, index: u64) -> u64 {
    mix64(mix64(seed) ^ mix64(index.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-z))
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Rounds to `decimals` places, the precision the notebook's source tables carry.
fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = libm::pow(10.0, f64::from(decimals));
    (value * scale).round() / scale
}

/// Generates one account; the order of the draws is part of the population's definition.
fn generate(d: &mut Draw, row: &mut [f64]) -> bool {
    let mut set = |feature: F, value: f64| row[feature as usize] = value;

    // Unobserved drivers: purchase intent shows only through clicks; usage growth only
    // through the noisy monthly usage.
    let intent = d.normal();
    let usage_growth = 0.01 + 0.035 * d.normal();

    // Demographics (true values; the missing masks come later).
    let is_business = d.bernoulli(0.07);
    let urban = d.bernoulli(0.68);
    let age = if is_business {
        (45.0 + 11.0 * d.normal()).clamp(22.0, 80.0).round()
    } else {
        (48.0 + 16.0 * d.normal()).clamp(18.0, 95.0).round()
    };
    let p_children = if (27.0..=52.0).contains(&age) {
        0.55
    } else if age < 27.0 {
        0.12
    } else {
        0.18
    };
    let has_children = d.bernoulli(p_children);
    let partner = d.bernoulli(if age < 25.0 { 0.3 } else { 0.62 });
    let children = if has_children {
        1.0 + d.poisson(0.7).min(5.0)
    } else {
        0.0
    };
    let household_size = 1.0 + flag(partner) + children;
    let age_z = (age - 48.0) / 16.0;
    let income_latent = 0.3 * age_z - 0.25 * age_z * age_z + 0.4 * flag(partner) + 0.9 * d.normal();
    let income_band = (3.0 + 1.1 * income_latent).round().clamp(1.0, 5.0);
    let is_homeowner = d.bernoulli(sigmoid(
        -0.6 + 0.05 * (age - 40.0) + 0.5 * (income_band - 3.0) + 0.6 * flag(!urban),
    ));
    let tenure = libm::floor(libm::exp(3.0 + 1.1 * d.normal())).clamp(1.0, 360.0);

    // Infrastructure at the address.
    let infra = if urban {
        d.choose(&[0.18, 0.34, 0.42, 0.05, 0.01])
    } else {
        d.choose(&[0.42, 0.10, 0.14, 0.22, 0.12])
    };
    let max_speed = match infra {
        0 => [16.0, 50.0, 100.0][d.choose(&[0.3, 0.5, 0.2])],
        1 => [500.0, 1000.0][d.choose(&[0.4, 0.6])],
        2 => [1000.0, 2000.0][d.choose(&[0.5, 0.5])],
        3 => [100.0, 300.0][d.choose(&[0.5, 0.5])],
        _ => [50.0, 100.0][d.choose(&[0.6, 0.4])],
    };
    let outage_rate = [0.6, 0.4, 0.15, 0.8, 1.2][infra];

    // Product mix.
    let n_internet = if is_business {
        1.0 + flag(d.bernoulli(0.2))
    } else {
        flag(d.bernoulli(0.86))
    };
    let has_internet = n_internet > 0.0;
    let max_tier = SPEED_TIERS
        .iter()
        .rposition(|&tier| tier <= max_speed)
        .unwrap_or(0);
    let steps_down = d.poisson((1.2 - 0.3 * (income_band - 3.0)).max(0.2));
    // `steps_down` is a small non-negative integer, so the cast is exact.
    let tier_index = max_tier.saturating_sub(steps_down as usize);
    let speed_gap_steps = (max_tier - tier_index) as f64;
    let speed_tier = SPEED_TIERS[tier_index];
    let n_mobile_lines = d
        .poisson(0.9 + 0.7 * flag(has_children) + 0.4 * flag(partner) + 2.5 * flag(is_business))
        .min(12.0);
    let n_tv = if has_internet {
        flag(d.bernoulli(0.42 + 0.1 * flag(has_children))) + flag(d.bernoulli(0.06))
    } else {
        flag(d.bernoulli(0.15))
    };
    let p_fixed = (0.12 + 0.008 * (age - 40.0)).clamp(0.03, 0.6);
    let n_fixed_phone = flag(d.bernoulli(p_fixed)) + flag(is_business && d.bernoulli(0.3));
    let n_streaming_addons = d
        .poisson(0.25 + 0.45 * n_tv + 0.2 * flag(has_children))
        .min(6.0);
    let n_devices_financed = d.binomial(n_mobile_lines, 0.28);
    let has_alarm = d.bernoulli(0.05 + 0.06 * flag(is_homeowner) + 0.03 * flag(!urban));
    let app_installed = d.bernoulli(sigmoid(0.8 - 0.03 * (age - 45.0)));
    let email_optin = d.bernoulli(0.55);
    let autopay = d.bernoulli(0.6 + 0.05 * (income_band - 3.0));
    let paperless = d.bernoulli(0.45 + 0.3 * flag(app_installed));
    let n_products = n_mobile_lines.min(2.0) + n_internet + n_tv + n_fixed_phone + flag(has_alarm);

    set(F::NMobileLines, n_mobile_lines);
    set(F::NInternet, n_internet);
    set(F::NTv, n_tv);
    set(F::NFixedPhone, n_fixed_phone);
    set(F::NStreamingAddons, n_streaming_addons);
    set(F::NDevicesFinanced, n_devices_financed);

    // Internet usage: current level times a per-account monthly growth, plus monthly noise.
    let usage_level = if has_internet {
        d.lognormal(
            libm::log(90.0 + 45.0 * household_size + 0.05 * speed_tier),
            0.55,
        )
    } else {
        0.0
    };
    let usage_months = [
        F::UsageGbM1,
        F::UsageGbM2,
        F::UsageGbM3,
        F::UsageGbM4,
        F::UsageGbM5,
        F::UsageGbM6,
    ];
    for (k, feature) in usage_months.into_iter().enumerate() {
        let months_back = k as f64;
        let noise = d.lognormal(0.0, 0.18);
        let value = if months_back >= tenure {
            f64::NAN
        } else {
            round_to(
                usage_level * libm::exp(-usage_growth * months_back) * noise,
                2,
            )
        };
        set(feature, value);
    }

    // Promotions and bills: bills follow the product mix, less the running discounts.
    let n_active_promos = d.poisson(0.25 + 0.35 * flag(tenure < 24.0)).min(4.0);
    let mut promo_discount = 0.0;
    let mut i = 0.0;
    while i < n_active_promos {
        promo_discount += [5.0, 10.0, 15.0, 20.0][d.choose(&[0.3, 0.35, 0.2, 0.15])];
        i += 1.0;
    }
    let promo_expiring = n_active_promos > 0.0 && d.bernoulli(0.3);
    let list_price = (12.0
        + n_mobile_lines * (18.0 + 3.0 * (income_band - 3.0))
        + n_internet * (30.0 + 0.012 * speed_tier)
        + n_tv * 28.0
        + n_fixed_phone * 14.0
        + n_streaming_addons * 8.0
        + n_devices_financed * 22.0
        + flag(has_alarm) * 25.0)
        * if is_business { 1.25 } else { 1.0 };
    let bill_months = [
        F::BillAmountM1,
        F::BillAmountM2,
        F::BillAmountM3,
        F::BillAmountM4,
        F::BillAmountM5,
        F::BillAmountM6,
    ];
    for (k, feature) in bill_months.into_iter().enumerate() {
        let overage = if d.bernoulli(0.1) {
            d.lognormal(libm::log(12.0), 0.6)
        } else {
            0.0
        };
        let jitter = 1.0 + 0.02 * d.normal();
        let value = if k as f64 >= tenure {
            f64::NAN
        } else {
            round_to(
                ((list_price - promo_discount + overage) * jitter).max(5.0),
                2,
            )
        };
        set(feature, value);
    }
    set(F::PromoExpiringNextMonth, flag(promo_expiring));
    set(F::NActivePromos, n_active_promos);
    set(F::PromoDiscountAmount, promo_discount);

    // Account history.
    let contract_length = [0.0, 12.0, 24.0][d.choose(&[0.35, 0.25, 0.4])];
    let contract_remaining = if contract_length > 0.0 {
        contract_length - tenure % contract_length
    } else {
        0.0
    };
    let late_payments = d
        .poisson(0.15 + 0.25 * flag(income_band <= 2.0) + 0.2 * flag(!autopay))
        .min(12.0);
    let outages = if has_internet {
        d.poisson(outage_rate)
    } else {
        0.0
    };
    let support_calls = d.poisson(0.3 + 0.35 * outages + 0.2 * late_payments);
    let complaints = d.poisson(0.08 + 0.25 * support_calls);
    let never_contacted = d.bernoulli(0.1);
    let days_since_contact = if support_calls > 0.0 {
        libm::floor(90.0 * d.uniform())
    } else {
        libm::floor(d.lognormal(4.5, 1.2)).min(3650.0)
    };
    let not_surveyed = d.bernoulli(0.7);
    let nps = (7.5 + 1.8 * d.normal() - 0.8 * complaints - 0.4 * outages)
        .round()
        .clamp(0.0, 10.0);
    set(F::TenureMonths, tenure);
    set(F::ContractMonthsRemaining, contract_remaining);
    set(F::Autopay, flag(autopay));
    set(F::PaperlessBilling, flag(paperless));
    set(F::LatePayments12m, late_payments);
    set(F::NSupportCalls3m, support_calls);
    set(F::NComplaints12m, complaints);
    set(
        F::DaysSinceLastContact,
        if never_contacted && support_calls == 0.0 {
            f64::NAN
        } else {
            days_since_contact
        },
    );
    set(F::NpsScore, if not_surveyed { f64::NAN } else { nps });

    // Demographics as the CRM holds them: partly unknown.
    let mask = |d: &mut Draw, p: f64, value: f64| {
        if d.bernoulli(p) { f64::NAN } else { value }
    };
    set(F::Age, mask(d, 0.08, age));
    set(F::HasChildren, mask(d, 0.2, flag(has_children)));
    set(F::HouseholdSize, mask(d, 0.15, household_size));
    set(F::IncomeBand, mask(d, 0.3, income_band));
    set(F::IsHomeowner, mask(d, 0.25, flag(is_homeowner)));
    set(F::IsBusiness, flag(is_business));
    set(F::Urban, flag(urban));

    // What the customer leans towards: the product they lack or outgrow.
    let lean = d.choose(&[
        0.8 + 0.6 * flag(has_children) + 0.4 * flag(n_mobile_lines == 0.0),
        0.6 + 0.5 * speed_gap_steps.min(3.0) + 0.8 * flag(!has_internet),
        0.5 + 1.0 * flag(n_tv == 0.0),
        0.3 + 0.8 * flag(is_homeowner && !has_alarm),
    ]);
    let pull = libm::exp(intent);

    // Click-stream: sessions rise towards the most recent month with intent.
    let engagement = d.lognormal(0.0, 0.7)
        * (1.0 + 0.8 * flag(app_installed))
        * libm::exp(-0.015 * (age - 40.0));
    let session_rate = 1.5 * engagement;
    let sessions_m1 = d.poisson(session_rate * libm::exp(0.5 * intent));
    let sessions_m2 = d.poisson(session_rate * libm::exp(0.2 * intent));
    let sessions_m3 = d.poisson(session_rate);
    set(F::ClickSessionsM1, sessions_m1);
    set(F::ClickSessionsM2, sessions_m2);
    set(F::ClickSessionsM3, sessions_m3);
    let product_pages = [
        F::ClickMobilePages,
        F::ClickInternetPages,
        F::ClickTvPages,
        F::ClickAlarmPages,
    ];
    for (product, feature) in product_pages.into_iter().enumerate() {
        let rate = sessions_m1 * if product == lean { 0.25 * pull } else { 0.12 };
        set(feature, d.poisson(rate));
    }
    set(
        F::ClickUpgradePages,
        d.poisson(0.08 * sessions_m1 * libm::exp(0.9 * intent)),
    );
    set(
        F::ClickCartAdds,
        d.poisson(0.012 * sessions_m1 * libm::exp(1.6 * intent)),
    );
    set(
        F::ClickSupportPages,
        d.poisson(0.1 * sessions_m1 + 0.6 * support_calls),
    );

    // Alarm app: alarm customers use it a lot; a few others run the free app, more so when
    // they lean towards the alarm product.
    let leans_alarm = lean == 3;
    let (alarm_rate, alarm_growth) = if has_alarm {
        (d.lognormal(libm::log(25.0), 0.6), 0.0)
    } else if d.bernoulli(0.12 + 0.2 * flag(leans_alarm)) {
        let growth = if leans_alarm {
            0.3 * pull.min(4.0)
        } else {
            0.0
        };
        (d.lognormal(libm::log(3.0), 0.8), growth)
    } else {
        (0.0, 0.0)
    };
    let alarm_months = [
        F::AlarmAppSessionsM1,
        F::AlarmAppSessionsM2,
        F::AlarmAppSessionsM3,
    ];
    let mut alarm_m1 = 0.0;
    for (k, feature) in alarm_months.into_iter().enumerate() {
        let sessions = d.poisson(alarm_rate * libm::exp(-alarm_growth * k as f64));
        if k == 0 {
            alarm_m1 = sessions;
        }
        set(feature, sessions);
    }
    set(F::HasAlarmService, flag(has_alarm));

    // Infrastructure features.
    let max_speed_unknown = d.bernoulli(0.03);
    set(F::InfraType, infra as f64);
    set(
        F::SpeedTierMbps,
        if has_internet { speed_tier } else { f64::NAN },
    );
    set(
        F::MaxSpeedAvailableMbps,
        if max_speed_unknown {
            f64::NAN
        } else {
            max_speed
        },
    );
    set(F::Outages3m, outages);

    // Mobile usage.
    let has_mobile = n_mobile_lines > 0.0;
    let mobile_gb = if has_mobile {
        round_to(d.lognormal(libm::log(6.0 * n_mobile_lines), 0.7), 2)
    } else {
        0.0
    };
    let roaming = if has_mobile && d.bernoulli(0.15) {
        d.poisson(6.0)
    } else {
        0.0
    };
    let overage_charges = if has_mobile && d.bernoulli(0.12) {
        round_to(d.lognormal(libm::log(15.0), 0.7), 2)
    } else {
        0.0
    };
    let device_age = if has_mobile {
        libm::floor(d.lognormal(libm::log(18.0), 0.6)).min(120.0)
    } else {
        f64::NAN
    };
    set(F::MobileDataGbM1, mobile_gb);
    set(F::RoamingDays3m, roaming);
    set(F::OverageCharges3m, overage_charges);
    set(F::DeviceAgeMonths, device_age);

    // Engagement and location.
    let distance = if urban {
        d.lognormal(libm::log(3.0), 0.7)
    } else {
        d.lognormal(libm::log(15.0), 0.7)
    };
    let distance_unknown = d.bernoulli(0.05);
    let household_accounts = 1.0 + d.poisson(0.1);
    let never_changed = d.bernoulli(0.35);
    let months_since_change = libm::floor(d.uniform() * tenure);
    set(F::AppInstalled, flag(app_installed));
    set(F::EmailOptin, flag(email_optin));
    set(
        F::StoreDistanceKm,
        if distance_unknown {
            f64::NAN
        } else {
            round_to(distance, 1)
        },
    );
    set(F::NHouseholdAccounts, household_accounts);
    set(
        F::MonthsSinceLastProductChange,
        if never_changed {
            f64::NAN
        } else {
            months_since_change
        },
    );

    // The label: a latent logistic model on true (unmasked) values.
    let infra_effect = [-0.3, 0.15, 0.5, -0.1, -0.8][infra];
    let age_effect = -0.0006 * (age - 38.0) * (age - 38.0);
    let recently_changed = !never_changed && months_since_change < 3.0;
    let logit = LABEL_INTERCEPT
        + 1.6 * intent
        + 1.2 * flag(promo_expiring)
        + flag(has_internet) * (10.0 * usage_growth + 0.3 * speed_gap_steps.min(3.0))
        + infra_effect
        + 0.3 * flag(has_children)
        + age_effect
        + 0.4 * flag(contract_length > 0.0 && contract_remaining <= 2.0)
        - 0.35 * complaints.min(3.0)
        - 0.25 * late_payments.min(3.0)
        + 0.3 * flag(n_products <= 2.0)
        + 0.15 * libm::log1p(alarm_m1) * flag(!has_alarm)
        + 0.2 * flag(is_homeowner)
        - 0.5 * flag(recently_changed)
        + 0.3 * flag(is_business);
    d.uniform() < sigmoid(logit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn rows(seed: u64, n: usize) -> (Vec<[f64; N_FEATURES]>, Vec<bool>) {
        let mut generator = AccountGenerator::new(seed);
        let mut out = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let mut row = [0.0; N_FEATURES];
            labels.push(generator.next_account(&mut row));
            out.push(row);
        }
        (out, labels)
    }

    fn bits(rows: &[[f64; N_FEATURES]]) -> Vec<u64> {
        rows.iter().flatten().map(|v| v.to_bits()).collect()
    }

    fn index_of(name: &str) -> usize {
        FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
            .expect("known feature")
    }

    #[test]
    fn same_seed_gives_same_rows() {
        let (a, la) = rows(42, 2_000);
        let (b, lb) = rows(42, 2_000);
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(la, lb);
        let (c, _) = rows(43, 2_000);
        assert_ne!(bits(&a), bits(&c));
    }

    #[test]
    fn account_at_matches_the_sequence() {
        let (seq, labels) = rows(7, 300);
        let generator = AccountGenerator::new(7);
        for i in [0_usize, 1, 17, 299] {
            let mut row = [0.0; N_FEATURES];
            let label = generator.account_at(i as u64, &mut row);
            assert_eq!(bits(&[row]), bits(&[seq[i]]));
            assert_eq!(label, labels[i]);
        }
    }

    #[test]
    fn pinned_values_stay_put() {
        // Guards the population's definition: a change here changes the demo model.
        let (data, labels) = rows(20_261_101, 1_000);
        let mut fingerprint = bits(&data).into_iter().fold(0_u64, |h, v| mix64(h ^ v));
        for label in labels {
            fingerprint = mix64(fingerprint ^ u64::from(label));
        }
        assert_eq!(fingerprint, PINNED_FINGERPRINT, "first row: {:?}", data[0]);
    }

    const PINNED_FINGERPRINT: u64 = 17_533_505_198_229_910_224;

    #[test]
    fn names_are_64_unique_snake_case() {
        let unique: HashSet<_> = FEATURE_NAMES.iter().collect();
        assert_eq!(unique.len(), 64);
        for name in FEATURE_NAMES {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert!(name.as_bytes()[0].is_ascii_lowercase(), "{name}");
            assert!(name.len() < 64, "LightGBM's C API truncates long names");
        }
        for name in CATEGORICAL_FEATURES {
            assert!(FEATURE_NAMES.contains(name));
        }
        assert_eq!(FEATURE_NAMES[F::InfraType as usize], "infra_type");
        assert_eq!(
            FEATURE_NAMES[F::MonthsSinceLastProductChange as usize],
            "months_since_last_product_change"
        );
    }

    #[test]
    fn missing_shares_are_as_documented() {
        let (data, _) = rows(1, 40_000);
        let share = |name: &str| {
            let i = index_of(name);
            data.iter().filter(|r| r[i].is_nan()).count() as f64 / data.len() as f64
        };
        for (name, expected) in [
            ("age", 0.08),
            ("has_children", 0.20),
            ("household_size", 0.15),
            ("income_band", 0.30),
            ("is_homeowner", 0.25),
            ("nps_score", 0.70),
            ("max_speed_available_mbps", 0.03),
            ("store_distance_km", 0.05),
            ("months_since_last_product_change", 0.35),
        ] {
            let got = share(name);
            assert!((got - expected).abs() < 0.015, "{name}: {got}");
        }
        for name in [
            "n_mobile_lines",
            "infra_type",
            "tenure_months",
            "click_sessions_m1",
        ] {
            assert_eq!(share(name), 0.0, "{name}");
        }
        // Structural gaps: speed tier exactly without internet, old months before tenure.
        let internet = index_of("n_internet");
        let tier = index_of("speed_tier_mbps");
        assert!(
            data.iter()
                .all(|r| r[tier].is_nan() == (r[internet] == 0.0))
        );
        let tenure = index_of("tenure_months");
        let bill6 = index_of("bill_amount_m6");
        assert!(data.iter().all(|r| r[bill6].is_nan() == (r[tenure] < 6.0)));
    }

    #[test]
    fn positive_rate_is_about_one_percent() {
        let generator = AccountGenerator::new(99);
        let mut row = [0.0; N_FEATURES];
        let n = 100_000;
        let positives = (0..n)
            .filter(|&i| generator.account_at(i, &mut row))
            .count();
        let rate = positives as f64 / n as f64;
        assert!((0.005..=0.015).contains(&rate), "{rate}");
    }

    #[test]
    fn values_are_in_range() {
        let (data, _) = rows(5, 20_000);
        let infra = index_of("infra_type");
        for r in &data {
            assert!((0.0..=4.0).contains(&r[infra]) && r[infra].fract() == 0.0);
            assert!(r.iter().all(|v| v.is_nan() || v.is_finite()));
            assert!(r.iter().all(|v| v.is_nan() || *v >= 0.0));
        }
        // Bills follow the product mix.
        let lines = index_of("n_mobile_lines");
        let bill = index_of("bill_amount_m1");
        let mean_bill = |pred: &dyn Fn(f64) -> bool| {
            let sel: Vec<f64> = data
                .iter()
                .filter(|r| pred(r[lines]))
                .map(|r| r[bill])
                .collect();
            sel.iter().sum::<f64>() / sel.len() as f64
        };
        assert!(mean_bill(&|n| n >= 3.0) > mean_bill(&|n| n == 0.0) + 40.0);
    }

    #[test]
    fn account_ids_are_padded() {
        assert_eq!(AccountGenerator::account_id(42), "BAN0000000042");
        assert_eq!(AccountGenerator::account_id(0), "BAN0000000000");
        let mut buf = Vec::new();
        push_padded_u64(&mut buf, 12_345_678_901, 10);
        assert_eq!(buf, b"12345678901");
    }

    #[test]
    fn csv_round_trips() {
        let mut out = Vec::new();
        write_csv(&mut out, 500, 3, true).expect("write to memory");
        let text = String::from_utf8(out).expect("utf-8");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("header").split(',').collect();
        assert_eq!(header.len(), 66);
        assert_eq!(header[0], "account_id");
        assert_eq!(&header[1..65], &FEATURE_NAMES[..]);
        assert_eq!(header[65], "target");

        let (data, labels) = rows(3, 500);
        let mut count = 0;
        for (i, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 66);
            assert_eq!(cells[0], AccountGenerator::account_id(i as u64));
            for (j, cell) in cells[1..65].iter().enumerate() {
                let expected = data[i][j];
                if expected.is_nan() {
                    assert_eq!(*cell, "");
                } else {
                    let parsed: f64 = cell.parse().expect("number");
                    assert_eq!(parsed.to_bits(), expected.to_bits(), "{cell}");
                }
            }
            assert_eq!(cells[65], if labels[i] { "1" } else { "0" });
            count += 1;
        }
        assert_eq!(count, 500);

        let mut unlabeled = Vec::new();
        write_csv(&mut unlabeled, 2, 3, false).expect("write to memory");
        let text = String::from_utf8(unlabeled).expect("utf-8");
        assert!(text.lines().all(|l| l.split(',').count() == 65));
    }

    #[test]
    fn fast_number_paths_match_display() {
        let check = |value: f64| {
            let mut buf = Vec::new();
            push_number(&mut buf, value);
            assert_eq!(String::from_utf8(buf).expect("utf-8"), format!("{value}"));
        };
        for cents in -200_000_i32..200_000 {
            check(f64::from(cents) / 100.0);
            check(f64::from(cents) / 10.0);
        }
        for value in [
            -0.0,
            1e14 + 0.25,
            123_456_789.07,
            0.001,
            1.0 / 3.0,
            2.5e-7,
            9.95,
            0.07,
        ] {
            check(value);
            check(-value);
        }
        let (data, _) = rows(11, 2_000);
        for value in data.iter().flatten().filter(|v| !v.is_nan()) {
            check(*value);
        }
    }

    #[test]
    fn numbers_are_compact() {
        let mut buf = Vec::new();
        for v in [0.0, 3.0, 49.99, 1000.0, 0.1 + 0.2, -2.0] {
            push_number(&mut buf, v);
            buf.push(b' ');
        }
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            "0 3 49.99 1000 0.30000000000000004 -2 "
        );
    }
}
