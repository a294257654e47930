//! Figures (plotters, embedded font) and the self-contained HTML report.
