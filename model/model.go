package model

import (
	"embed"
	"errors"
	"io/fs"
)

//go:embed all:artifact
var artifact embed.FS

// Path is where the trained model lives in the repository.
const Path = "model/artifact/faasmon.model"

// ErrNone says that no model was committed with this build.
var ErrNone = errors.New("no model embedded: train one with `go run ./model/train -data DIR -out " + Path + "`")

// Default returns the embedded model file's bytes.
func Default() ([]byte, error) {
	b, err := artifact.ReadFile("artifact/faasmon.model")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNone
	}
	return b, err
}
