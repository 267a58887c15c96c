package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestFrameIsZeroCoversEveryField sets each field of Frame alone and checks
// that IsZero sees it: a field added to Frame but not to IsZero fails here.
func TestFrameIsZeroCoversEveryField(t *testing.T) {
	if f := (Frame{}); !f.IsZero() {
		t.Fatal("the zero Frame is not IsZero")
	}
	typ := reflect.TypeFor[Frame]()
	for i := range typ.NumField() {
		var f Frame
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int, reflect.Int64:
			v.SetInt(1)
		case reflect.Uint64:
			v.SetUint(1)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case reflect.Map:
			v.Set(reflect.MakeMap(v.Type()))
		default:
			t.Fatalf("field %s: kind %s not handled by this test", typ.Field(i).Name, v.Kind())
		}
		if f.IsZero() {
			t.Errorf("IsZero misses field %s", typ.Field(i).Name)
		}
	}
}

// TestPlainJSONAgreesWithEncodingJSON: a string is plain exactly when
// encoding/json writes it unchanged between quotes.
func TestPlainJSONAgreesWithEncodingJSON(t *testing.T) {
	for c := range 256 {
		s := "a" + string(rune(c)) + "b"
		if c >= 0x80 {
			s = "a" + string([]byte{byte(c)}) + "b"
		}
		for _, html := range []bool{true, false} {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			asIs := buf.String() == `"`+s+`"`+"\n"
			if got := PlainJSON(html, s); got && !asIs {
				t.Errorf("byte %#x (html %v): PlainJSON true, but encoding/json writes %s", c, html, buf.String())
			}
		}
	}
}

func TestAppendField(t *testing.T) {
	got := string(AppendField(AppendField([]byte(`{"type":"x"`), "id", "7"), "queue", ""))
	if got != `{"type":"x","id":"7"` {
		t.Fatalf("got %s", got)
	}
}
