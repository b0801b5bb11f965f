//! Latchkey's admin console, a leptos single-page app over the admin API.

mod api;
mod app;
mod auth;
mod components;
mod pages;
mod roles;
mod routes;
mod time;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
