package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// apiError is an error the server answers with, in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// invalid is a 400 invalid_request_error about param.
func invalid(param, code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: strPtr(param), Code: strPtr(code),
		Message: fmt.Sprintf(format, args...)}
}

// notFound is the 404 every missing or foreign object answers with: it never says whether the
// object exists for someone else.
func notFound(what, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: strPtr(what + "_not_found"),
		Message: fmt.Sprintf("No %s found with id %q.", what, id)}
}

func internalError(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: "server_error", Code: strPtr("internal_error"),
		Message: "The server had an error while processing your request: " + err.Error()}
}

// writeError answers w with err as an OpenAI error object; errors that are not *apiError
// become 500s.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = internalError(err)
	}
	if ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, ae.Status, map[string]any{"error": ae})
}

// writeJSON answers w with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may be gone; nothing left to tell it
}

// decodeJSON reads a JSON body into v, rejecting unknown trailing data and oversized bodies.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: strPtr("request_too_large"),
				Message: fmt.Sprintf("Expected a request body of at most %d bytes, found more.", mbe.Limit)}
		}
		return invalid("", "invalid_json", "Expected a JSON object as the request body: %v.", err)
	}
	if dec.More() {
		return invalid("", "invalid_json", "Expected one JSON object as the request body, found trailing data.")
	}
	return nil
}
