#pragma once
// resource.Quantity strings exactly as apimachinery's Quantity.String() prints them (its canonical
// form), for the values this adapter serves to Kubernetes clients.
//
// Canonical DecimalSI: the value is an integer mantissa times 10^e; trailing zeros of the mantissa
// move into e, then e is lowered to a multiple of 3 and printed as its suffix (n u m "" k M G T P
// E) or, past E, as "e<e>" ("1e21"). Zero is "0"; negatives carry a leading '-'.
//
// Non-finite inputs (NaN, +-Inf) never reach these functions: the sampler drops such samples and
// the view refuses a selection whose total is not finite (pipeline/view.h). Should one arrive
// anyway, every function returns "0" rather than an unparsable string.
//
// All functions are pure and thread-safe.

#include <string>

namespace aa::apiserver {

// A metric value as custom.metrics and external.metrics carry it.
//
// The value is first rounded to the nearest milli-unit, halves away from zero (llround), then
// printed as canonical DecimalSI: 70 -> "70", 0.5 -> "500m", 1.5 -> "1500m", 1000 -> "1k",
// 1500 -> "1500", 1.08 -> "1080m", 3e8 -> "300M", 2.0/3 -> "667m", 0 -> "0", -0.5 -> "-500m".
//
// Why round to milli: the HPA reads values with Quantity.MilliValue(), which rounds any finer
// fraction UP, so 0.30000000001 printed in full would be read as 301m. Printing at most milli
// precision makes MilliValue() exact. Nearest (rather than up like MilliValue, or down like
// prometheus-adapter's int64(v*1000)) keeps the printed value within 0.5m of the sample:
// 0.30000000001 -> "300m", 2/3 -> "667m" (prometheus-adapter: 666m), 0.0005 -> "1m",
// 0.0004 -> "0" (MilliValue-style ceiling would give "1m").
// Values too large for int64 milli-units (|v| >= ~9.2e15) are printed from their exact integer
// digits ("1e21" for 1e21).
std::string FormatQuantity(double value);

// CPU usage for metrics.k8s.io, as metrics-server prints it: rounded to the nearest integer
// nanocore (halves away from zero), then canonical DecimalSI: 0.012345678 -> "12345678n",
// 0.25 -> "250m", 2 -> "2", 0.0000000004 -> "0".
std::string FormatNanoCores(double cores);

// Memory usage for metrics.k8s.io: rounded to the nearest integer byte, then printed the way a
// BinarySI Quantity prints: when |v| >= 1024, the largest binary suffix (Ki Mi Gi Ti Pi Ei) that
// divides it exactly (2*1024^3 -> "2Gi", 1.5*1024^3 -> "1536Mi", 26284032 -> "25668Ki"), or the
// plain integer if 1024 does not divide it (1025 -> "1025", 2000 -> "2000"). Like apimachinery,
// values with |v| < 1024 are printed as DecimalSI (500 -> "500", 1000 -> "1k"). Values beyond int64
// range fall back to DecimalSI.
std::string FormatBytes(double bytes);

}  // namespace aa::apiserver
