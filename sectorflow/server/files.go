package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sectorflow/sdk/sectorflow"
)

// fileObject is OpenAI's File.
type fileObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Bytes     int64  `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt *int64 `json:"expires_at,omitempty"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"`
}

// A file is two objects of KindFile: "<id>.json" (its metadata) and "<id>.data" (its content).
func fileMetaKey(tenant, id string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: sectorflow.KindFile, Name: id + ".json"}
}

func fileDataKey(tenant, id string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: sectorflow.KindFile, Name: id + ".data"}
}

// validFileID reports whether id has the shape of the ids this server hands out, so that no
// client string reaches a storage key unchecked.
func validID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) < 8 || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// uploadFile is POST /v1/files: multipart "file" and "purpose" ("fine-tune"), with OpenAI's
// optional expires_after[anchor]=created_at and expires_after[seconds] for temporary files.
// Fine-tuning data is validated here, every bad line reported with its number.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return invalid("", "invalid_content_type", "Expected a multipart/form-data upload, found %q.", ct)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return invalid("", "invalid_multipart", "Expected a multipart/form-data body: %v.", err)
	}
	var (
		purpose, filename, anchor, seconds string
		content                            []byte
		haveFile                           bool
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		switch part.FormName() {
		case "file":
			filename = part.FileName()
			content, err = io.ReadAll(io.LimitReader(part, s.opts.MaxFileBytes+1))
			if err != nil {
				return bodyError(err)
			}
			if int64(len(content)) > s.opts.MaxFileBytes {
				return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Param: strPtr("file"),
					Code: strPtr("file_too_large"), Message: fmt.Sprintf("Expected a file of at most %d bytes, found more.", s.opts.MaxFileBytes)}
			}
			haveFile = true
		case "purpose", "expires_after[anchor]", "expires_after[seconds]":
			v, err := io.ReadAll(io.LimitReader(part, 256))
			if err != nil {
				return bodyError(err)
			}
			switch part.FormName() {
			case "purpose":
				purpose = string(v)
			case "expires_after[anchor]":
				anchor = string(v)
			default:
				seconds = string(v)
			}
		}
		part.Close()
	}
	if !haveFile {
		return invalid("file", "missing_file", "Expected a multipart field \"file\", found none.")
	}
	if purpose != "fine-tune" {
		return invalid("purpose", "invalid_purpose", "Expected purpose \"fine-tune\", found %q.", purpose)
	}
	if filename == "" {
		filename = "upload.jsonl"
	}
	if !utf8.ValidString(filename) || len(filename) > 255 {
		return invalid("file", "invalid_filename", "Expected a UTF-8 file name of at most 255 bytes.")
	}
	var put *sectorflow.PutOptions
	var expiresAt *int64
	now := time.Now()
	if anchor != "" || seconds != "" {
		if anchor != "created_at" {
			return invalid("expires_after[anchor]", "invalid_expiry", "Expected expires_after[anchor] \"created_at\", found %q.", anchor)
		}
		n, err := strconv.ParseInt(seconds, 10, 64)
		if err != nil || n < 3600 || n > 30*24*3600 {
			return invalid("expires_after[seconds]", "invalid_expiry", "Expected expires_after[seconds] between 3600 and 2592000, found %q.", seconds)
		}
		put = &sectorflow.PutOptions{TTL: time.Duration(n) * time.Second}
		e := now.Unix() + n
		expiresAt = &e
	} else {
		put = &sectorflow.PutOptions{Permanent: true}
	}
	if _, err := sectorflow.ValidateDataset(r.Context(), bytes.NewReader(content), filename); err != nil {
		var de *sectorflow.DatasetError
		if errors.As(err, &de) || errors.Is(err, sectorflow.ErrInvalidDataset) {
			return invalid("file", "invalid_file_format", "Invalid fine-tuning file: %s", strings.TrimPrefix(err.Error(), "validate dataset: "))
		}
		return internalError(err)
	}
	f := fileObject{ID: newID("file-"), Object: "file", Bytes: int64(len(content)), CreatedAt: now.Unix(),
		ExpiresAt: expiresAt, Filename: filename, Purpose: purpose, Status: "processed"}
	// Content first: a metadata object always has its content, so listing never shows a file
	// that cannot be read.
	if err := s.store.Put(r.Context(), fileDataKey(p.Tenant, f.ID), bytes.NewReader(content), put); err != nil {
		return internalError(err)
	}
	if err := s.putJSON(r.Context(), fileMetaKey(p.Tenant, f.ID), f, put); err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// bodyError turns a read error on the request body into an API error.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: strPtr("request_too_large"),
			Message: fmt.Sprintf("Expected a request body of at most %d bytes, found more.", mbe.Limit)}
	}
	return invalid("", "invalid_body", "Could not read the request body: %v.", err)
}

// loadFile returns the calling tenant's file id, or a 404.
func (s *Server) loadFile(ctx context.Context, tenant, id string) (fileObject, error) {
	var f fileObject
	if !validID(id, "file-") {
		return f, notFound("file", id)
	}
	if err := s.getJSON(ctx, fileMetaKey(tenant, id), &f); err != nil {
		if errors.Is(err, sectorflow.ErrNotFound) {
			return f, notFound("file", id)
		}
		return f, internalError(err)
	}
	return f, nil
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	purpose := r.URL.Query().Get("purpose")
	var files []fileObject
	for info, err := range s.store.List(r.Context(), p.Tenant, string(sectorflow.KindFile)+"/") {
		if err != nil {
			return internalError(err)
		}
		id, ok := strings.CutSuffix(info.Key.Name, ".json")
		if !ok {
			continue
		}
		f, err := s.loadFile(r.Context(), p.Tenant, id)
		if err != nil {
			continue // removed or expired since it was listed
		}
		if purpose != "" && f.Purpose != purpose {
			continue
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ID > files[j].ID })
	page, hasMore, err := paginate(r, files, func(f fileObject) string { return f.ID }, 10000)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listObject(page, hasMore))
	return nil
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) error {
	f, err := s.loadFile(r.Context(), principalOf(r.Context()).Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (s *Server) getFileContent(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	f, err := s.loadFile(r.Context(), p.Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	rc, err := s.store.Get(r.Context(), fileDataKey(p.Tenant, f.ID))
	if err != nil {
		if errors.Is(err, sectorflow.ErrNotFound) {
			return notFound("file", f.ID)
		}
		return internalError(err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Bytes, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	f, err := s.loadFile(r.Context(), p.Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	// Metadata first: once it is gone the file is invisible, whatever happens to the content.
	for _, k := range []sectorflow.Key{fileMetaKey(p.Tenant, f.ID), fileDataKey(p.Tenant, f.ID)} {
		if err := s.store.Delete(r.Context(), k); err != nil && !errors.Is(err, sectorflow.ErrNotFound) {
			return internalError(err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": f.ID, "object": "file", "deleted": true})
	return nil
}

// listObject is OpenAI's list envelope.
func listObject[T any](data []T, hasMore bool) map[string]any {
	if data == nil {
		data = []T{}
	}
	out := map[string]any{"object": "list", "data": data, "has_more": hasMore}
	if len(data) > 0 {
		out["first_id"] = idOf(data[0])
		out["last_id"] = idOf(data[len(data)-1])
	}
	return out
}

func idOf(v any) string {
	switch x := v.(type) {
	case fileObject:
		return x.ID
	case *fineTuningJob:
		return x.ID
	case jobEvent:
		return x.ID
	case jobCheckpoint:
		return x.ID
	}
	return ""
}

// paginate applies OpenAI's cursor pagination ("after" an id, "limit" items, default 20) to
// items already in list order.
func paginate[T any](r *http.Request, items []T, id func(T) string, maxLimit int) ([]T, bool, error) {
	q := r.URL.Query()
	limit := 20
	if maxLimit > 100 {
		limit = maxLimit // files list everything by default, as OpenAI does
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return nil, false, invalid("limit", "invalid_limit", "Expected limit between 1 and %d, found %q.", maxLimit, v)
		}
		limit = n
	}
	if after := q.Get("after"); after != "" {
		i := 0
		for i < len(items) && id(items[i]) != after {
			i++
		}
		if i == len(items) {
			items = nil
		} else {
			items = items[i+1:]
		}
	}
	if len(items) > limit {
		return items[:limit], true, nil
	}
	return items, false, nil
}
