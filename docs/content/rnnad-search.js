// Search over the index.json that fsdocs writes (one entry per page and API item: uri, title, content),
// in place of fsdocs' default search, which loads its matcher from a CDN: this one needs no other host.
// Every word of the query must occur in an entry's title or text; title matches rank first.
const searchBtn = document.querySelector("#search-btn");
const dialog = document.querySelector("dialog");
const box = document.querySelector("dialog input[type=search]");
const results = document.querySelector("dialog ul");
const empty = document.querySelector("dialog .empty");
const root = (document.documentElement.getAttribute("data-root") || "/").replace(/\/?$/, "/");
let index = null;

function load() {
    if (index) return Promise.resolve(index);
    return fetch(`${root}index.json`)
        .then(response => response.ok ? response.json() : Promise.reject(new Error(`index.json: ${response.status}`)))
        .then(entries => {
            index = entries.map(e => ({ ...e, titleLower: (e.title || "").toLowerCase(), textLower: (e.content || "").toLowerCase() }));
            return index;
        });
}

function score(entry, words) {
    let total = 0;
    for (const word of words) {
        if (entry.titleLower.includes(word)) total += 10;
        else if (entry.textLower.includes(word)) total += 1;
        else return 0;
    }
    return total + (entry.type === "content" ? 0.5 : 0);
}

function show(query) {
    const words = query.toLowerCase().split(/\s+/).filter(w => w.length > 1);
    if (words.length === 0 || !index) {
        results.replaceChildren();
        empty.textContent = "Type something to start searching.";
        empty.style.display = "block";
        return;
    }
    const found = index.map(e => [score(e, words), e]).filter(([s]) => s > 0).sort((a, b) => b[0] - a[0]).slice(0, 20);
    if (found.length === 0) {
        results.replaceChildren();
        empty.textContent = "Nothing found.";
        empty.style.display = "block";
        return;
    }
    empty.style.display = "none";
    results.replaceChildren(...found.map(([, e]) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = e.uri;
        a.textContent = (e.title || e.uri).trim();
        const kind = document.createElement("small");
        kind.textContent = e.type === "content" ? "page" : "API";
        a.append(kind);
        li.append(a);
        return li;
    }));
}

function open() {
    load().then(() => show(box.value)).catch(() => { empty.textContent = "The search index could not be loaded."; });
    dialog.showModal();
    box.focus();
}

if (searchBtn && dialog) {
    searchBtn.addEventListener("click", open);
    dialog.addEventListener("click", ev => { if (ev.target === dialog) dialog.close(); });
    box.addEventListener("input", () => show(box.value));
    window.addEventListener("keydown", ev => {
        const typing = ["INPUT", "TEXTAREA"].includes(document.activeElement?.tagName);
        if (!dialog.open && ((ev.key === "/" && !typing) || (ev.key === "k" && (ev.ctrlKey || ev.metaKey)))) {
            ev.preventDefault();
            open();
        }
    });
}
