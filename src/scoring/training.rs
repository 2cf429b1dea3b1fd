//! Training a LightGBM model through its C API, for the demo model and for tests and
//! benchmarks that need models of a given shape.
//!
//! `lightgbm3::Dataset` builds datasets with empty parameters, and LightGBM fixes
//! `categorical_feature`, `zero_as_missing` and the binning when the dataset is built (the
//! booster's parameters silently ignore them), so this goes through `lightgbm3-sys`.

#![allow(
    unsafe_code,
    reason = "LightGBM training goes through its C API (lightgbm3-sys)"
)]

use std::ffi::{CStr, CString, c_char, c_void};

use lightgbm3_sys as sys;

/// LightGBM refused something, with its message.
#[derive(Debug, thiserror::Error)]
#[error("LightGBM training: {0}")]
pub struct TrainingError(String);

fn check(code: i32) -> Result<(), TrainingError> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: LGBM_GetLastError returns a valid NUL-terminated, thread-local string.
    let message = unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) };
    Err(TrainingError(message.to_string_lossy().into_owned()))
}

fn c_string(text: &str) -> Result<CString, TrainingError> {
    CString::new(text).map_err(|_| TrainingError(format!("`{text}` contains a NUL byte")))
}

/// Owns a LightGBM dataset handle.
struct Dataset(sys::DatasetHandle);

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once.
        unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

/// Owns a LightGBM booster handle; declared after its dataset so it is dropped first.
struct Booster(sys::BoosterHandle);

impl Drop for Booster {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_BoosterCreate and is freed once.
        unsafe { sys::LGBM_BoosterFree(self.0) };
    }
}

/// Trains `iterations` boosting rounds on row-major `x` (one row per label in `y`, NaN =
/// missing) and returns the model in LightGBM's text format (`save_model`).
pub fn train_model(
    x: &[f64],
    y: &[f32],
    feature_names: &[&str],
    dataset_params: &str,
    booster_params: &str,
    iterations: usize,
) -> Result<String, TrainingError> {
    let too_big = |_| TrainingError("too many rows or features".into());
    let ncol = feature_names.len();
    if ncol == 0 || x.len() != y.len() * ncol {
        return Err(TrainingError(format!(
            "{} values are not {} rows of {ncol} features",
            x.len(),
            y.len()
        )));
    }
    let rows = i32::try_from(y.len()).map_err(too_big)?;
    let cols = i32::try_from(ncol).map_err(too_big)?;
    let dataset_params = c_string(dataset_params)?;
    let booster_params = c_string(booster_params)?;
    let names: Vec<CString> = feature_names
        .iter()
        .map(|n| c_string(n))
        .collect::<Result<_, _>>()?;
    let mut name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let label_field = c_string("label")?;

    let mut dataset = Dataset(std::ptr::null_mut());
    // SAFETY: `x` holds `rows * cols` f64 values in row-major order; LightGBM copies them.
    check(unsafe {
        sys::LGBM_DatasetCreateFromMat(
            x.as_ptr().cast::<c_void>(),
            sys::C_API_DTYPE_FLOAT64 as i32,
            rows,
            cols,
            1,
            dataset_params.as_ptr(),
            std::ptr::null_mut(),
            &mut dataset.0,
        )
    })?;
    // SAFETY: `y` holds `rows` f32 labels; LightGBM copies them.
    check(unsafe {
        sys::LGBM_DatasetSetField(
            dataset.0,
            label_field.as_ptr(),
            y.as_ptr().cast::<c_void>(),
            rows,
            sys::C_API_DTYPE_FLOAT32 as i32,
        )
    })?;
    // SAFETY: `cols` valid C strings that outlive the call; LightGBM copies them.
    check(unsafe { sys::LGBM_DatasetSetFeatureNames(dataset.0, name_ptrs.as_mut_ptr(), cols) })?;

    let mut booster = Booster(std::ptr::null_mut());
    // SAFETY: a valid dataset handle that outlives the booster (dropped after it).
    check(unsafe { sys::LGBM_BoosterCreate(dataset.0, booster_params.as_ptr(), &mut booster.0) })?;
    for round in 1..=iterations {
        let mut finished = 0;
        // SAFETY: a valid booster handle and a valid out pointer.
        check(unsafe { sys::LGBM_BoosterUpdateOneIter(booster.0, &mut finished) })?;
        if finished != 0 {
            return Err(TrainingError(format!(
                "could not grow a tree in round {round}"
            )));
        }
    }

    let mut len = 0_i64;
    // SAFETY: a zero-length buffer only asks for the needed size.
    check(unsafe {
        sys::LGBM_BoosterSaveModelToString(booster.0, 0, -1, 0, 0, &mut len, std::ptr::null_mut())
    })?;
    let mut buffer = vec![0_u8; usize::try_from(len).map_err(too_big)?];
    // SAFETY: `buffer` has room for `len` bytes including the terminating NUL.
    check(unsafe {
        sys::LGBM_BoosterSaveModelToString(
            booster.0,
            0,
            -1,
            0,
            len,
            &mut len,
            buffer.as_mut_ptr().cast::<c_char>(),
        )
    })?;
    drop(booster);
    drop(dataset);
    let text = CStr::from_bytes_until_nul(&buffer)
        .map_err(|_| TrainingError("the model text has no terminating NUL".into()))?;
    Ok(text.to_string_lossy().into_owned())
}
