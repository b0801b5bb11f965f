//! Whole-system tests: the real server and store, on SQLite and on PostgreSQL.

mod abuse;
mod admin;
mod bootstrap;
mod catalog;
mod console;
mod contract;
mod counts;
mod ending;
mod escalation;
mod http;
mod metrics;
mod oidc;
mod schema;
mod topology;
mod trust;
