// Package envconf is the one home of reading configuration from the
// environment: a Lookup (os.LookupEnv's shape) with the rules the project
// uses for a variable's value, set-even-if-empty (String), empty-means-unset
// (NonEmpty) and integers (Int, PositiveInt). Each function and command
// reads its settings through one Lookup into one struct, the shape of
// alert.LoadConfigLookup and of the of-watchdog's own configuration, so that
// its tests pass an environment as a map.
//
// It sits beside the flow tracer → parse → graph → classify → alert: the
// tracer's command and the functions' handlers read their settings with it.
package envconf
