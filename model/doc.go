// Package model holds the trained faasmon model that faasmon-classify
// embeds, so a function image carries the model it was tested with: the
// classify stage of the flow tracer → parse → graph → classify → alert.
//
// The embedded file is Path, model/artifact/faasmon.model, written by
// model/report (`make report`, the published study: trained on 80% of the
// lab's graphs, with model/eval-report.json as its evaluation). model/train
// writes model/faasmon.model by default, which is not embedded; give it
// `-out model/artifact/faasmon.model` to replace the embedded model.
// model/eval evaluates a model file; see model/README.md.
package model
