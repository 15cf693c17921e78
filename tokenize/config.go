package tokenize

import (
	"encoding/json"
	"fmt"
)

// config holds what tokenizer_config.json and generation_config.json say.
type config struct {
	special         map[string]string // bos_token, eos_token, ... -> content
	additional      []string
	addBOS, addEOS  *bool
	chatTemplate    string
	chatTemplates   map[string]string
	cleanUpSpaces   bool
	genEOS          []int
	genBOS          *int
	hasTokenizerCfg bool
}

// specialTokenKeys are the special-token attributes of transformers' tokenizers.
var specialTokenKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

func cfgErr(file, path, reason string, err error) error {
	return &FormatError{File: file, Path: path, Reason: reason, Err: err}
}

// tokenContent reads a token given as a string, an AddedToken object {"content": ...} or null.
func tokenContent(raw json.RawMessage, path string) (string, bool, error) {
	if isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true, nil
	}
	var o struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Content == nil {
		return "", false, cfgErr("tokenizer_config.json", path, "expected a string or {\"content\": ...}, found "+abbrev(raw), nil)
	}
	return *o.Content, true, nil
}

func (c *config) parseTokenizerConfig(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return cfgErr("tokenizer_config.json", "$", "expected a JSON object", err)
	}
	c.hasTokenizerCfg = true
	c.special = map[string]string{}
	for _, k := range specialTokenKeys {
		s, ok, err := tokenContent(m[k], k)
		if err != nil {
			return err
		}
		if ok {
			c.special[k] = s
		}
	}
	if raw := m["additional_special_tokens"]; !isNull(raw) {
		var l []json.RawMessage
		if err := json.Unmarshal(raw, &l); err != nil {
			return cfgErr("tokenizer_config.json", "additional_special_tokens", "expected a list, found "+abbrev(raw), nil)
		}
		for i, r := range l {
			s, ok, err := tokenContent(r, fmt.Sprintf("additional_special_tokens[%d]", i))
			if err != nil {
				return err
			}
			if ok {
				c.additional = append(c.additional, s)
			}
		}
	}
	for _, f := range []struct {
		key string
		dst **bool
	}{{"add_bos_token", &c.addBOS}, {"add_eos_token", &c.addEOS}} {
		if raw := m[f.key]; !isNull(raw) {
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				return cfgErr("tokenizer_config.json", f.key, "expected true or false, found "+abbrev(raw), nil)
			}
			*f.dst = &b
		}
	}
	if raw := m["clean_up_tokenization_spaces"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &c.cleanUpSpaces); err != nil {
			return cfgErr("tokenizer_config.json", "clean_up_tokenization_spaces", "expected true or false, found "+abbrev(raw), nil)
		}
	}
	if raw := m["chat_template"]; !isNull(raw) {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			c.chatTemplate = s
		} else {
			var l []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(raw, &l); err != nil {
				return cfgErr("tokenizer_config.json", "chat_template", "expected a string or a list of {\"name\", \"template\"}, found "+abbrev(raw), nil)
			}
			c.chatTemplates = map[string]string{}
			for _, t := range l {
				c.chatTemplates[t.Name] = t.Template
			}
			c.chatTemplate = c.chatTemplates["default"]
		}
	}
	return nil
}

func (c *config) parseGenerationConfig(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return cfgErr("generation_config.json", "$", "expected a JSON object", err)
	}
	if raw := m["eos_token_id"]; !isNull(raw) {
		var one int
		if err := json.Unmarshal(raw, &one); err == nil {
			c.genEOS = []int{one}
		} else if err := json.Unmarshal(raw, &c.genEOS); err != nil {
			return cfgErr("generation_config.json", "eos_token_id", "expected an integer or a list of integers, found "+abbrev(raw), nil)
		}
	}
	if raw := m["bos_token_id"]; !isNull(raw) {
		var one int
		if err := json.Unmarshal(raw, &one); err != nil {
			return cfgErr("generation_config.json", "bos_token_id", "expected an integer, found "+abbrev(raw), nil)
		}
		c.genBOS = &one
	}
	return nil
}

// BOSToken returns tokenizer_config.json's bos_token ("" if unset).
func (t *Tokenizer) BOSToken() string { return t.cfg.special["bos_token"] }

// EOSToken returns tokenizer_config.json's eos_token ("" if unset).
func (t *Tokenizer) EOSToken() string { return t.cfg.special["eos_token"] }

// BOSTokenID returns the id of the BOS token: tokenizer_config.json's bos_token, else
// generation_config.json's bos_token_id.
func (t *Tokenizer) BOSTokenID() (int, bool) {
	if s := t.BOSToken(); s != "" {
		if id, ok := t.TokenToID(s); ok {
			return id, true
		}
	}
	if t.cfg.genBOS != nil {
		return *t.cfg.genBOS, true
	}
	return 0, false
}

// EOSTokenIDs returns the ids that end generation: generation_config.json's eos_token_id (an
// integer or a list) followed by the id of tokenizer_config.json's eos_token, without duplicates.
func (t *Tokenizer) EOSTokenIDs() []int {
	var out []int
	seen := map[int]bool{}
	for _, id := range t.cfg.genEOS {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if s := t.EOSToken(); s != "" {
		if id, ok := t.TokenToID(s); ok && !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// SpecialTokensMap returns the special tokens of tokenizer_config.json the way transformers
// passes them to chat templates: bos_token, eos_token, unk_token, sep_token, pad_token,
// cls_token and mask_token as strings (only those set), and additional_special_tokens as a
// []string when non-empty.
func (t *Tokenizer) SpecialTokensMap() map[string]any {
	m := map[string]any{}
	for k, v := range t.cfg.special {
		m[k] = v
	}
	if len(t.cfg.additional) > 0 {
		m["additional_special_tokens"] = append([]string(nil), t.cfg.additional...)
	}
	return m
}

// ChatTemplateSource returns tokenizer_config.json's chat_template ("" if none). When the file
// lists named templates, this is the one named "default".
func (t *Tokenizer) ChatTemplateSource() string { return t.cfg.chatTemplate }

// NamedChatTemplateSource returns the template of that name when tokenizer_config.json lists
// named templates (such as "tool_use").
func (t *Tokenizer) NamedChatTemplateSource(name string) (string, bool) {
	s, ok := t.cfg.chatTemplates[name]
	return s, ok
}

// AddBOSToken reports tokenizer_config.json's add_bos_token and whether it is set. Encode
// follows tokenizer.json's post-processor, as the Hugging Face fast tokenizers do; this is
// informational.
func (t *Tokenizer) AddBOSToken() (value, set bool) {
	if t.cfg.addBOS == nil {
		return false, false
	}
	return *t.cfg.addBOS, true
}

// CleanUpTokenizationSpaces reports tokenizer_config.json's clean_up_tokenization_spaces.
func (t *Tokenizer) CleanUpTokenizationSpaces() bool { return t.cfg.cleanUpSpaces }
