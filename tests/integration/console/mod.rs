//! The operator's console on the admin listener: its JSON API and its
//! pages against a real journal.

mod api;
mod chromium;
mod pages;
mod web;
