//! Circle of trust, key lifecycle and the other token kinds, on real processes.

mod circle;
mod reset;
mod token_kinds;

use access_node_harness::*;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
