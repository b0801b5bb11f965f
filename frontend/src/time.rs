//! Dates in the browser's locale, with a relative "3 minutes ago".

use wasm_bindgen::JsValue;

/// Epoch milliseconds as a date and time in the browser's locale.
pub fn local(ms: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &JsValue::UNDEFINED))
}

/// How long before `now` (both epoch milliseconds) `ms` was, in the browser's language.
pub fn ago(ms: i64, now: i64) -> String {
    let seconds = (ms - now) as f64 / 1000.0;
    let (value, unit) = match seconds.abs() {
        s if s < 60.0 => (seconds, "second"),
        s if s < 3600.0 => (seconds / 60.0, "minute"),
        s if s < 86_400.0 => (seconds / 3600.0, "hour"),
        _ => (seconds / 86_400.0, "day"),
    };
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"numeric".into(), &"auto".into());
    let format = js_sys::Intl::RelativeTimeFormat::new(&js_sys::Array::new(), &options);
    String::from(format.format(value.trunc(), unit))
}

pub fn now() -> i64 {
    js_sys::Date::now() as i64
}
