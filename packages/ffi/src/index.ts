/**
 * @plue/ffi: the plue C API. `include/plue.h` is generated from `Api`; `Bridge` binds a library
 * built with it to the session bridge; `Host` runs a host library's `plue_host_main`.
 *
 * @since 0.1.0
 */

/** The C API, described once. */
export * as Api from "./Api.js"

/** Generates plue.h from the description. */
export * as Header from "./Header.js"

/** The sidecar that `plue serve` runs for C programs with their own main() (plue_init). */
export * as Sidecar from "./Sidecar.js"

/** Binds a C library to the session bridge (for Node programs that load their own plugins). */
export * as Bridge from "./Bridge.js"

/** Runs a C host library's plue_host_main. */
export * as Host from "./Host.js"
