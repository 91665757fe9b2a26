// TinySAM demo app: a thin SwiftUI shell over TinySAMKit (pipeline + CoreML runtime).
import SwiftUI

@main
struct TinySAMDemoApp: App {
    @StateObject private var model = SegmentViewModel()

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(model)
                .task { await model.loadModels() }
        }
    }
}
