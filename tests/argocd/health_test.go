// Runs deploy/argocd/health.lua the way Argo CD runs a health customization from argocd-cm:
// gopher-lua (Lua 5.1) with only the package, base and table libraries open, the live object as the
// global `obj`, a one-second deadline, and the returned table read as {status, message}. Each file
// in testdata/ is one case: `expect` (status, message) and `object` (a Customer or CustomerUser).
package argocd

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const (
	// The operator's closed set of Ready reasons.
	reasonsSource = "../../src/controller/condition.rs"
	healthScript  = "../../deploy/argocd/health.lua"
	configMap     = "../../deploy/argocd/argocd-cm-patch.yaml"
)

// The kinds the script is registered for, as Argo CD names them in argocd-cm.
var configMapKeys = []string{
	"resource.customizations.health.admin.corti.app_Customer",
	"resource.customizations.health.admin.corti.app_CustomerUser",
}

// The statuses Argo CD accepts from a health script; anything else becomes Unknown.
var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	Expect health                 `json:"expect"`
	Object map[string]interface{} `json:"object"`
}

// runHealth mirrors Argo CD's util/lua VM for a customization with useOpenLibs false.
func runHealth(t *testing.T, script string, object map[string]interface{}) health {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatalf("opening %s: %v", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, object))
	if err := l.DoString(script); err != nil {
		t.Fatalf("the script failed: %v", err)
	}
	returned, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %s, not a table", l.Get(-1).Type())
	}
	result := health{}
	returned.ForEach(func(key, value lua.LValue) {
		switch key.String() {
		case "status":
			result.Status = value.String()
		case "message":
			result.Message = value.String()
		default:
			t.Errorf("unexpected field %q in the returned table", key.String())
		}
	})
	if !validStatuses[result.Status] {
		t.Fatalf("status %q is not one Argo CD accepts", result.Status)
	}
	return result
}

// toLua converts decoded JSON as Argo CD's decodeValue does (numbers become LNumber).
func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		table := l.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(l, item))
		}
		return table
	case map[string]interface{}:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestHealthOfSamples(t *testing.T) {
	script := readFile(t, healthScript)
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no cases in testdata/")
	}
	seen := map[string]bool{}
	for _, file := range files {
		file := file
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			var c testCase
			if err := yaml.UnmarshalStrict([]byte(readFile(t, file)), &c); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if c.Object == nil || c.Expect.Status == "" {
				t.Fatalf("%s needs `expect.status` and `object`", file)
			}
			kind, _ := c.Object["kind"].(string)
			if kind != "Customer" && kind != "CustomerUser" {
				t.Fatalf("%s: kind %q is neither Customer nor CustomerUser", file, kind)
			}
			seen[c.Expect.Status] = true
			got := runHealth(t, script, c.Object)
			if got != c.Expect {
				t.Errorf("got %+v, want %+v", got, c.Expect)
			}
		})
	}
	var statuses []string
	for status := range seen {
		statuses = append(statuses, status)
	}
	sort.Strings(statuses)
	if strings.Join(statuses, ",") != "Degraded,Healthy,Progressing,Suspended" {
		t.Errorf("the cases cover %v; each of Healthy, Progressing, Degraded and Suspended needs one", statuses)
	}
}

// Every reason the operator can put on Ready maps to a health on purpose, for both kinds.
func TestEveryReason(t *testing.T) {
	script := readFile(t, healthScript)
	want := map[string]string{
		"Reconciled":          "Healthy",
		"Creating":            "Progressing",
		"Updating":            "Progressing",
		"Deleting":            "Progressing",
		"CustomerNotReady":    "Progressing",
		"RemoteUnavailable":   "Progressing",
		"Paused":              "Suspended",
		"CredentialsNotFound": "Degraded",
		"CredentialsRejected": "Degraded",
		"Forbidden":           "Degraded",
		"InvalidSpec":         "Degraded",
		"InvalidPassword":     "Degraded",
		"Conflict":            "Degraded",
		"Internal":            "Degraded",
		"Observed":            "Suspended",
	}
	// A reason added to the operator must be added here (and, if it is not transient, to the script).
	// Only the Reason enum's names: the file also names the condition's statuses (True, False...).
	source := readFile(t, reasonsSource)
	start := strings.Index(source, "pub enum Reason")
	end := strings.Index(source, "pub enum Status")
	if start < 0 || end < start {
		t.Fatalf("%s no longer has `pub enum Reason` before `pub enum Status`", reasonsSource)
	}
	for _, match := range regexp.MustCompile(`Self::\w+ => "(\w+)"`).FindAllStringSubmatch(source[start:end], -1) {
		if _, ok := want[match[1]]; !ok {
			t.Errorf("the operator's reason %s (%s) has no expected health here", match[1], reasonsSource)
		}
	}
	for _, kind := range []string{"Customer", "CustomerUser"} {
		for reason, status := range want {
			ready := "False"
			if reason == "Reconciled" {
				ready = "True"
			}
			object := map[string]interface{}{
				"apiVersion": "admin.corti.app/v1alpha1",
				"kind":       kind,
				"metadata":   map[string]interface{}{"name": "x", "namespace": "tenants", "generation": int64(4)},
				"status": map[string]interface{}{
					"observedGeneration": int64(4),
					"conditions": []interface{}{map[string]interface{}{
						"type": "Ready", "status": ready, "reason": reason, "message": "the message",
						"observedGeneration": int64(4), "lastTransitionTime": "2026-11-22T10:00:00Z",
					}},
				},
			}
			got := runHealth(t, script, object)
			if got.Status != status || got.Message != "the message" {
				t.Errorf("%s with reason %s: got %+v, want status %s and the condition's message", kind, reason, got, status)
			}
		}
	}
}

// The argocd-cm snippet carries exactly deploy/argocd/health.lua under each kind's key.
func TestConfigMapCarriesTheScript(t *testing.T) {
	script := readFile(t, healthScript)
	var cm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
		Data       map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, configMap)), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Metadata["name"] != "argocd-cm" {
		t.Fatalf("%s is not the argocd-cm ConfigMap: kind %q, name %q", configMap, cm.Kind, cm.Metadata["name"])
	}
	for _, key := range configMapKeys {
		if cm.Data[key] != script {
			t.Errorf("%s: data[%q] differs from %s (run deploy/render)", configMap, key, healthScript)
		}
	}
	if len(cm.Data) != len(configMapKeys) {
		t.Errorf("%s has %d keys, want %d", configMap, len(cm.Data), len(configMapKeys))
	}
}
